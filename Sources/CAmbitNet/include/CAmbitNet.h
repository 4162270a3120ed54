// The few Linux calls Swift's Glibc module does not expose (they need _GNU_SOURCE).
#ifndef CAMBITNET_H
#define CAMBITNET_H

/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd`.
/// Returns 0, or -1 with errno set.
int ambit_enter_netns(int fd);

#endif
