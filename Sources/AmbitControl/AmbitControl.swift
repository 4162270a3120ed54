// AmbitControl is `ambit control`, Ambit's istiod: the durable store of what users
// declared, the registry of nodes and workloads, the CA that issues workload identities,
// and the push that keeps every node and waypoint's config current without restarts.
