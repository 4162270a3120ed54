// AmbitNode is the per-node daemon (`ambit node`): it enrols the pods on its node into the
// mesh, captures their traffic, carries it over HBONE with each workload's own identity,
// and enforces L4 authorization.
