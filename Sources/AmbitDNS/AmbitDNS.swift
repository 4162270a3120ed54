// AmbitDNS answers mesh service names for enrolled pods: a DNS message codec, the table of
// mesh names with each pod's search forms, and a UDP/TCP server that answers what it knows
// and forwards everything else to the pod's own resolver.
//
// Map: Message/ is the pure codec (DNSMessage, DNSName, records, response builders);
// Names/ the pure mesh name table; Server/ the pure query planner and the NIO listeners
// and forwarder that perform its decisions (DNSServer is the entry point).
