// AmbitRedirect puts a pod's traffic in the node daemon's hands without touching the pod:
// it applies one nftables table inside the pod's network namespace (one atomic
// libnftables transaction), creates the daemon's sockets inside that namespace (marked so
// the rules never loop them back), and reads a redirected connection's original
// destination.
