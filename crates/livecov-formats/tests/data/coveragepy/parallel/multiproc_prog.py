import multiprocessing


def work(n):
    if n % 2:
        return n * 3
    return n // 2


def odd_only(n):
    return n * 10


def main():
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(2)
    evens_and_odds = pool.map(work, [1, 2, 3, 4])
    # close and join, not terminate: a terminated worker never saves its data.
    pool.close()
    pool.join()
    child = ctx.Process(target=odd_only, args=(5,))
    child.start()
    child.join()
    print(evens_and_odds)


if __name__ == "__main__":
    main()
