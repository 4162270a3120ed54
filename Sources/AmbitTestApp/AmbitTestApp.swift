// AmbitTestApp: the HTTP/gRPC application Ambit's own tests, quickstart and benchmarks
// put behind the mesh. One instance says who it is (name, version) in every answer,
// reports what request it saw, and can be told to fail or be slow — by its flags or per
// request by header — so that one backend serves many tests. It also carries the
// clients that drive it: a fixed-rate load generator and a gRPC caller.
//
// It is built to not be the bottleneck of a benchmark: every request is handled on the
// channel's event loop without hopping to a Task, and the server runs one event loop.
