def pick(flag):
    if flag:
        return "left"
    return "right"
