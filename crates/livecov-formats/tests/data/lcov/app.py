import sys


def classify(n):
    if n < 0:
        return "neg"
    elif n == 0:
        return "zero"
    return "pos"


def unused(x):
    return x * 2


class Box:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


def main(argv):
    total = 0
    for a in argv:
        total += len(classify(int(a)))
    if total > 1000:
        print("big")
    print(Box(total).get())


if __name__ == "__main__":
    main(sys.argv[1:])
