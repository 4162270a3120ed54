// AmbitDNS answers mesh service names for enrolled pods: a DNS message codec, the table of
// mesh names with each pod's search forms, and a UDP/TCP server that answers what it knows
// and forwards everything else to the pod's own resolver.
