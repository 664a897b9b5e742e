def helper(flag):
    if flag:
        return "yes"
    return "no"


def shared():
    return 1


def test_first():
    assert helper(True) == "yes"
    return shared()


def test_second():
    assert helper(False) == "no"
    return shared()


def not_a_test():
    return helper(True)


test_first()
test_second()
not_a_test()
