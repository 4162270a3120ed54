// AmbitCore holds the vocabulary every other module speaks: workload identity
// (`SpiffeID`), the injected clock that timed logic runs on, and the error shape the
// modules share. It does no I/O, so everything here is tested as plain values.
