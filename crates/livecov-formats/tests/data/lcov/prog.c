#include <stdio.h>
#include <stdlib.h>

static int classify(int n) {
    if (n < 0)
        return -1;
    if (n == 0 || n > 100)
        return 0;
    return 1;
}

static int never_called(int x) {
    return x * 2;
}

int sum_to(int n) {
    int s = 0;
    for (int i = 0; i < n; i++)
        s += i;
    return s;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5;
    int pos = 0;
    for (int i = -2; i < n; i++)
        if (classify(i) > 0)
            pos++;
    printf("%d %d\n", pos, sum_to(n));
    if (argc > 5)
        printf("%d\n", never_called(n));
    return 0;
}
