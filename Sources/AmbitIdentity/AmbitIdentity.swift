// AmbitIdentity turns a SPIFFE ID into something a TLS handshake can prove.
//
// - CA/            the mesh CA: creates or loads a root (or a user's intermediate) and signs
//                  CSRs for exactly the identity the caller is authorised for.
// - Certificates/  the trust bundle and the workload certificate (leaf + chain + key).
// - Rotation/      the certificate manager: one certificate per identity, fetched on demand,
//                  renewed at half life, the old one kept while renewal fails.
// - TLS/           TLS 1.3 contexts with ALPN h2, and the SPIFFE verifier that replaces
//                  hostname checks with "this chain proves this workload identity".
//
// Explicit trust roots always: nothing here ever reads the system trust store.
