#define _GNU_SOURCE
#include <sched.h>
#include "CAmbitNet.h"

int ambit_enter_netns(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int ambit_unshare_netns(void) {
    return unshare(CLONE_NEWNET);
}
