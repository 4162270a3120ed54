import Testing

@testable import AmbitCore

/// L7 documents `ambit apply` refuses, and the exact words a person reads: the same
/// mistakes `kubectl apply` would refuse for Gateway API and Istio, plus the ones only a
/// mesh that compiles the regular expressions and compares the timeouts can catch.
@Suite("Refused L7 documents")
struct L7BadDocumentTests {
    typealias Bad = ResourceDecoderTests.Bad

    static let route = "kind: HTTPRoute\nmetadata: {name: r, namespace: shop}\nspec: "
    static let grpc = "kind: GRPCRoute\nmetadata: {name: g, namespace: shop}\nspec: "
    static let gateway = "kind: Gateway\nmetadata: {name: w, namespace: shop}\nspec: "
    static let rule_ = "kind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec: "
    static let backend = "backendRefs: [{name: api, port: 80}]"

    /// An HTTPRoute with one rule.
    static func rule(_ body: String) -> String { route + "{parentRefs: [{name: w}], rules: [{\(body)}]}" }
    static func grpcRule(_ body: String) -> String { grpc + "{parentRefs: [{name: w}], rules: [{\(body)}]}" }
    static func policy(_ body: String) -> String { rule_ + "{host: cart, trafficPolicy: {\(body)}}" }

    static let r = "l7.yaml, document 1 (HTTPRoute shop/r): "
    static let g = "l7.yaml, document 1 (GRPCRoute shop/g): "
    static let gw = "l7.yaml, document 1 (Gateway shop/w): "
    static let dr = "l7.yaml, document 1 (DestinationRule shop/d): "

    static let httpRoutes: [Bad] = [
        Bad("a regular expression that does not compile (path)", rule("matches: [{path: {type: RegularExpression, value: \"/a(\"}}]"),
            r + "spec.rules[0].matches[0].path.value: '/a(' is not a valid regular expression: expected ')'"),
        Bad("a regular expression that does not compile (header)", rule("matches: [{headers: [{type: RegularExpression, name: x-v, value: \"[z-a]\"}]}]"),
            r + "spec.rules[0].matches[0].headers[0].value: '[z-a]' is not a valid regular expression: character 'z' must compare less than or equal to 'a'"),
        Bad("a negative weight", rule("backendRefs: [{name: api, port: 80, weight: -1}]"),
            r + "spec.rules[0].backendRefs[0].weight: must be from 0 to 1000000, got -1"),
        Bad("backendRequest longer than request", rule("timeouts: {request: 1s, backendRequest: 1m30s}, " + backend),
            r + "spec.rules[0].timeouts.backendRequest: 1m30s is longer than timeouts.request (1s): each attempt must fit in the whole request"),
        Bad("a redirect with a rewrite", rule("filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}, {type: URLRewrite, urlRewrite: {hostname: a.example}}]"),
            r + "spec.rules[0].filters[0]: RequestRedirect and URLRewrite cannot be combined in one rule: a redirect answers the request, a rewrite forwards it"),
        Bad("a redirect with backends", rule("filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}], " + backend),
            r + "spec.rules[0].filters[0]: a RequestRedirect rule answers the request itself and cannot have backendRefs"),
        Bad("a duration with an unknown unit", rule("timeouts: {request: 1x}"),
            r + "spec.rules[0].timeouts.request: '1x' is not a duration: write numbers with units h, m, s or ms, such as 500ms, 10s or 1m30s"),
        Bad("a duration without a unit", rule("timeouts: {request: 10}"),
            r + "spec.rules[0].timeouts.request: must be a duration such as 500ms, 10s or 1m30s, got the number 10 (add a unit: 10s)"),
        Bad("an unknown field deep in a filter", rule("filters: [{type: RequestHeaderModifier, requestHeaderModifier: {sett: [{name: a, value: b}]}}]"),
            r + "spec.rules[0].filters[0].requestHeaderModifier.sett: unknown field (known here: add, remove, set)"),
        Bad("ReplacePrefixMatch without a PathPrefix match",
            rule("matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}], " + backend),
            r + "spec.rules[0].filters[0]: ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path: it replaces the prefix that match matched"),
        Bad("ReplacePrefixMatch with two matches",
            rule("matches: [{path: {value: /a}}, {path: {value: /b}}], filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /c}}}]"),
            r + "spec.rules[0].filters[0]: ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path: it replaces the prefix that match matched"),
        Bad("redirect status 303", rule("filters: [{type: RequestRedirect, requestRedirect: {statusCode: 303}}]"),
            r + "spec.rules[0].filters[0].requestRedirect.statusCode: must be 301 or 302, got 303"),
        Bad("retry on 200", rule("retry: {codes: [503, 200]}, " + backend),
            r + "spec.rules[0].retry.codes[1]: must be an HTTP status code from 400 to 599, got 200"),
        Bad("a negative number of attempts", rule("retry: {attempts: -1}, " + backend),
            r + "spec.rules[0].retry.attempts: must be from 0 to 1000, got -1"),
        Bad("a path that does not start with /", rule("matches: [{path: {type: PathPrefix, value: api}}]"),
            r + "spec.rules[0].matches[0].path.value: 'api' must start with '/'"),
        Bad("a path with //", rule("matches: [{path: {type: Exact, value: /a//b}}]"),
            r + "spec.rules[0].matches[0].path.value: '/a//b' must not contain '//'"),
        Bad("one filter type twice", rule("filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: [a]}}, {type: RequestHeaderModifier, requestHeaderModifier: {remove: [b]}}]"),
            r + "spec.rules[0].filters[1]: a RequestHeaderModifier filter may appear only once in one list of filters"),
        Bad("settings of another filter type", rule("filters: [{type: RequestHeaderModifier, urlRewrite: {hostname: a.example}}]"),
            r + "spec.rules[0].filters[0].urlRewrite: belongs to a URLRewrite filter, but this filter's type is RequestHeaderModifier"),
        Bad("a filter type without its settings", rule("filters: [{type: URLRewrite}]"),
            r + "spec.rules[0].filters[0].urlRewrite: is required when type is URLRewrite"),
        Bad("an unsupported filter type", rule("filters: [{type: CORS}]"),
            r + "spec.rules[0].filters[0].type: must be one of RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror, ExtensionRef, got 'CORS'"),
        Bad("a Service backend without a port", rule("backendRefs: [{name: api}]"),
            r + "spec.rules[0].backendRefs[0].port: is required for a Service backend"),
        Bad("a parent of an unknown kind", route + "{parentRefs: [{kind: Mesh, name: m}]}",
            r + "spec.parentRefs[0].kind: must be one of Gateway, Service, got 'Mesh'"),
        Bad("a Service parent in the Gateway API group", route + "{parentRefs: [{kind: Service, group: gateway.networking.k8s.io, name: s}]}",
            r + "spec.parentRefs[0].group: a Service parent's group is empty (the core group), got 'gateway.networking.k8s.io'"),
        Bad("no parent", route + "{rules: [{\(backend)}]}",
            r + "spec.parentRefs: a route needs at least one parent: a waypoint Gateway or a Service"),
        Bad("a hostname with a port", route + "{parentRefs: [{name: w}], hostnames: [\"shop.example:80\"]}",
            r + "spec.hostnames[0]: 'shop.example:80' is not a valid hostname: write a DNS name such as cart.shop.svc.cluster.local or *.example.com (lower case, no port, no IP address)"),
        Bad("an unknown method", rule("matches: [{method: FETCH}]"),
            r + "spec.rules[0].matches[0].method: must be one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, got 'FETCH'"),
        Bad("a mirror of more than 100 %", rule("filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, percent: 101}}]"),
            r + "spec.rules[0].filters[0].requestMirror.percent: must be from 0 to 100, got 101"),
        Bad("a weight on a mirror", rule("filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80, weight: 2}}}]"),
            r + "spec.rules[0].filters[0].requestMirror.backendRef.weight: unknown field (known here: group, kind, name, namespace, port)"),
        Bad("a rewrite on a backend", rule("backendRefs: [{name: a, port: 80, filters: [{type: URLRewrite, urlRewrite: {hostname: a.example}}]}]"),
            r + "spec.rules[0].backendRefs[0].filters[0].type: URLRewrite is not supported on a backend; put it in the rule's filters"),
        Bad("one header matched twice", rule("matches: [{headers: [{name: X-A, value: \"1\"}, {name: x-a, value: \"2\"}]}]"),
            r + "spec.rules[0].matches[0].headers[1].name: 'x-a' is matched twice in one match; put both conditions in a regular expression"),
        Bad("a redirect to a relative path", rule("filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: new}}}]"),
            r + "spec.rules[0].filters[0].requestRedirect.path.replaceFullPath: 'new' must start with '/'"),
        Bad("an empty header modifier", rule("filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {}}]"),
            r + "spec.rules[0].filters[0].responseHeaderModifier: a header modifier needs at least one of set, add or remove"),
        Bad("a header name with a space", rule("filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: \"x y\", value: z}]}}]"),
            r + "spec.rules[0].filters[0].requestHeaderModifier.set[0].name: 'x y' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
        Bad("a redirect to a wildcard host", rule("filters: [{type: RequestRedirect, requestRedirect: {hostname: \"*.example.com\"}}]"),
            r + "spec.rules[0].filters[0].requestRedirect.hostname: '*.example.com' is not a valid hostname: write a DNS name such as example.com (lower case, no port, no IP address)"),
    ]

    static let grpcRoutes: [Bad] = [
        Bad("a gRPC service name with a slash", grpcRule("matches: [{method: {service: shop/Cart}}]"),
            g + "spec.rules[0].matches[0].method.service: 'shop/Cart' is not a gRPC service name such as shop.v1.Cart"),
        Bad("a gRPC method regular expression that does not compile", grpcRule("matches: [{method: {type: RegularExpression, method: \"*Item\"}}]"),
            g + "spec.rules[0].matches[0].method.method: '*Item' is not a valid regular expression: quantifier '*' must appear after expression"),
        Bad("an empty gRPC method match", grpcRule("matches: [{method: {type: Exact}}]"),
            g + "spec.rules[0].matches[0].method: a method match needs a service, a method or both"),
        Bad("a redirect in a GRPCRoute", grpcRule("filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]"),
            g + "spec.rules[0].filters[0].type: must be one of RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, got 'RequestRedirect'"),
        Bad("a negative gRPC weight", grpcRule("backendRefs: [{name: a, port: 9090, weight: -5}]"),
            g + "spec.rules[0].backendRefs[0].weight: must be from 0 to 1000000, got -5"),
    ]

    static let gateways: [Bad] = [
        Bad("someone else's gateway class", gateway + "{gatewayClassName: istio}",
            gw + "spec.gatewayClassName: 'istio' is not Ambit's: Ambit implements only gatewayClassName ambit-waypoint (a waypoint); other classes belong to other controllers"),
        Bad("no gateway class", gateway + "{listeners: []}", gw + "spec.gatewayClassName: is required"),
        Bad("an HTTPS listener", gateway + "{gatewayClassName: ambit-waypoint, listeners: [{name: a, port: 443, protocol: HTTPS}]}",
            gw + "spec.listeners[0].protocol: must be one of HBONE, HTTP, TCP, got 'HTTPS'"),
        Bad("two protocols on one port", gateway + "{gatewayClassName: ambit-waypoint, listeners: [{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: TCP}]}",
            gw + "spec.listeners[1].port: port 80 is already used by listener 'a' (HTTP)"),
        Bad("one listener name twice", gateway + "{gatewayClassName: ambit-waypoint, listeners: [{name: a, port: 80, protocol: HTTP}, {name: a, port: 81, protocol: HTTP}]}",
            gw + "spec.listeners[1].name: listener 'a' is defined twice"),
        Bad("an unknown allowedRoutes source", gateway + "{gatewayClassName: ambit-waypoint, listeners: [{name: a, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Others}}}]}",
            gw + "spec.listeners[0].allowedRoutes.namespaces.from: must be one of Same, All, Selector, got 'Others'"),
        Bad("an address that is not one", gateway + "{gatewayClassName: ambit-waypoint, addresses: [{value: 10.0.0.300}]}",
            gw + "spec.addresses[0].value: '10.0.0.300' is not an IPv4 or IPv6 address"),
    ]

    static let destinationRules: [Bad] = [
        Bad("an unknown load-balancing policy", policy("loadBalancer: {simple: LEAST_CONN}"),
            dr + "spec.trafficPolicy.loadBalancer.simple: must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH, got 'LEAST_CONN'"),
        Bad("TLS settings", policy("tls: {mode: ISTIO_MUTUAL}"),
            dr + "spec.trafficPolicy.tls: not supported: the mesh always uses mTLS between workloads, so there is nothing to configure"),
        Bad("TLS settings on a port", policy("portLevelSettings: [{port: {number: 80}, tls: {mode: SIMPLE}}]"),
            dr + "spec.trafficPolicy.portLevelSettings[0].tls: not supported: the mesh always uses mTLS between workloads, so there is nothing to configure"),
        Bad("simple and consistentHash together", policy("loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}"),
            dr + "spec.trafficPolicy.loadBalancer: set either simple or consistentHash, not both"),
        Bad("a hash on two things", policy("loadBalancer: {consistentHash: {httpHeaderName: x-user, useSourceIp: true}}"),
            dr + "spec.trafficPolicy.loadBalancer.consistentHash: hash on one thing only: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName"),
        Bad("a hash on nothing", policy("loadBalancer: {consistentHash: {ringHash: {minimumRingSize: 64}}}"),
            dr + "spec.trafficPolicy.loadBalancer.consistentHash: needs what to hash on: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName"),
        Bad("a Maglev table that is not prime", policy("loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1000}}}"),
            dr + "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: must be a prime number, such as 65537, got 1000"),
        Bad("a connect timeout of zero", policy("connectionPool: {tcp: {connectTimeout: 0s}}"),
            dr + "spec.trafficPolicy.connectionPool.tcp.connectTimeout: must be at least 1ms, got '0s'"),
        Bad("an ejection percentage over 100", policy("outlierDetection: {maxEjectionPercent: 150}"),
            dr + "spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be from 0 to 100, got 150"),
        Bad("a bad ejection time", policy("outlierDetection: {baseEjectionTime: 30}"),
            dr + "spec.trafficPolicy.outlierDetection.baseEjectionTime: must be a duration such as 500ms, 10s or 1m30s, got the number 30 (add a unit: 30s)"),
        Bad("Istio's removed consecutiveErrors", policy("outlierDetection: {consecutiveErrors: 5}"),
            dr + "spec.trafficPolicy.outlierDetection.consecutiveErrors: unknown field (known here: baseEjectionTime, consecutive5xxErrors, consecutiveGatewayErrors, interval, maxEjectionPercent, minHealthPercent)"),
        Bad("a subset name twice", rule_ + "{host: cart, subsets: [{name: v1, labels: {v: \"1\"}}, {name: v1, labels: {v: \"2\"}}]}",
            dr + "spec.subsets[1].name: subset 'v1' is defined twice"),
        Bad("no host", rule_ + "{subsets: []}", dr + "spec.host: is required"),
        Bad("a host with a port", rule_ + "{host: \"cart:80\"}",
            dr + "spec.host: 'cart:80' is not a host: write a Service name (cart), its full name (cart.shop.svc.cluster.local) or a wildcard (*.shop.svc.cluster.local)"),
        Bad("a port twice in portLevelSettings", policy("portLevelSettings: [{port: {number: 80}}, {port: {number: 80}}]"),
            dr + "spec.trafficPolicy.portLevelSettings[1].port.number: port 80 has two settings"),
        Bad("zero maximum connections", policy("connectionPool: {tcp: {maxConnections: 0}}"),
            dr + "spec.trafficPolicy.connectionPool.tcp.maxConnections: must be from 1 to 4294967295, got 0"),
    ]

    @Test("a bad HTTPRoute is refused with the field and the reason", arguments: httpRoutes)
    func httpRoute(_ bad: Bad) { Self.refused(bad) }

    @Test("a bad GRPCRoute is refused with the field and the reason", arguments: grpcRoutes)
    func grpcRoute(_ bad: Bad) { Self.refused(bad) }

    @Test("a bad Gateway is refused with the field and the reason", arguments: gateways)
    func gateway(_ bad: Bad) { Self.refused(bad) }

    @Test("a bad DestinationRule is refused with the field and the reason", arguments: destinationRules)
    func destinationRule(_ bad: Bad) { Self.refused(bad) }

    static func refused(_ bad: Bad) {
        #expect(throws: ResourceError.self) {
            do {
                _ = try MeshSnapshot(ResourceDecoder.decodeFile(bad.text, file: "l7.yaml"))
            } catch {
                #expect("\(error)" == bad.message)
                throw error
            }
        }
    }
}
