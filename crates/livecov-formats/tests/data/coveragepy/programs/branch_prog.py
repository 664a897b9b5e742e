def sign(n):
    if n < 0:
        return -1
    elif n == 0:
        return 0
    return 1


def loop(items):
    seen = 0
    for item in items:
        if item:
            seen += 1
    return seen


results = [sign(-4), sign(7)]
count = loop([1, 0, 1])
squares = [x * x for x in range(3)]
if count == 99:
    results.append(count)
print(results, count, squares)
