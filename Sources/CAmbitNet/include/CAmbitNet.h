// The few Linux calls Swift's Glibc module does not expose (they need _GNU_SOURCE).
#ifndef CAMBITNET_H
#define CAMBITNET_H

/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd`.
/// Returns 0, or -1 with errno set.
int ambit_enter_netns(int fd);

/// unshare(CLONE_NEWNET): gives the calling thread a new, empty network namespace (used
/// by `ambit check` to try the pod rules where they cannot touch anything real).
/// Returns 0, or -1 with errno set.
int ambit_unshare_netns(void);

#endif
