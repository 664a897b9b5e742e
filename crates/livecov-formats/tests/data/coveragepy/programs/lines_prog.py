import sys


def classify(n):
    if n < 0:
        return "negative"
    if n == 0:
        return "zero"
    return "positive"


def never_called():
    return 42


total = 0
for value in [-2, 3, 5]:
    total += len(classify(value))
if total > 100:
    print("unreachable")
sys.stdout.write(str(total) + "\n")
