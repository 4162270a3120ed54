// AmbitTunnel is HBONE: one TCP connection carried as an HTTP/2 CONNECT stream inside
// mutual TLS, many such streams multiplexed on one connection between two processes.
//
// - HBONE/      the protocol as values: the CONNECT request and its headers, the
//               response codes, the HTTP/2 settings both ends use. No I/O.
// - Server/     accepts TLS + HTTP/2, hands each CONNECT to a decision function, dials,
//               answers 200/400/401/503, glues.
// - Client/     the connection pool: keyed by (source identity, expected destination
//               identities, destination address), 100 streams per connection, idle close,
//               PING keepalive.
// - Glue/       two channels joined with backpressure and half-close both ways.
// - Forwarder/  a plain TCP listener whose connections are carried through HBONE (the
//               shape of the node's outbound path; used by the demo and the benchmark).
