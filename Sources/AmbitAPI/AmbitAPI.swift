// AmbitAPI is the control plane's wire contract: the protobuf messages and gRPC services
// that nodes, waypoints and the CLI speak with `ambit control`. Everything under
// Generated/ comes from Protos/ through scripts/generate-protos.sh and is committed, so a
// build never needs protoc.
