from pkg import a, b

print(a.double(2), b.pick(True), b.pick(False))
