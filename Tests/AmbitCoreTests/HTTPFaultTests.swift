import Testing

@testable import AmbitCore

/// `HTTPFault` (Ambit's fault-injection kind), the `ExtensionRef` filter that uses it, and
/// the status a route shows when the reference does not resolve.
@Suite("HTTPFault and ExtensionRef")
struct HTTPFaultTests {
    typealias Bad = ResourceDecoderTests.Bad

    static let fault = "apiVersion: ambit.dev/v1alpha1\nkind: HTTPFault\nmetadata: {name: f, namespace: shop}\nspec: "
    static let f = "fault.yaml, document 1 (HTTPFault shop/f): "

    static func decode(_ text: String) throws -> Resource {
        let resources = try ResourceDecoder.decodeFile(text, file: "fault.yaml")
        try #require(resources.count == 1)
        return resources[0]
    }

    @Test("delay and abort read with Istio's names; fractions of a percent are kept")
    func decodes() throws {
        let r = try Self.decode(Self.fault + "{delay: {percentage: {value: 10.5}, fixedDelay: 2s}, abort: {percentage: {value: 5}, httpStatus: 503}}")
        #expect(r == .httpFault(HTTPFault(
            metadata: ObjectMeta(name: "f", namespace: "shop"),
            delay: .init(percentage: 10.5, fixedDelay: .seconds(2)),
            abort: .init(percentage: 5, status: .http(503)))))
    }

    @Test("a gRPC abort takes the status by name")
    func grpcAbort() throws {
        guard case .httpFault(let fault) = try Self.decode(Self.fault + "{abort: {percentage: {value: 100}, grpcStatus: UNAVAILABLE}}") else {
            Issue.record("not an HTTPFault")
            return
        }
        #expect(fault.abort == .init(percentage: 100, status: .grpc(.unavailable)))
        #expect(GRPCStatusCode.unavailable.rawValue == 14 && fault.delay == nil)
    }

    static let bad: [Bad] = [
        Bad("a percentage over 100", fault + "{abort: {percentage: {value: 100.5}, httpStatus: 503}}",
            f + "spec.abort.percentage.value: must be from 0 to 100, got 100.5"),
        Bad("a negative percentage", fault + "{delay: {percentage: {value: -1}, fixedDelay: 1s}}",
            f + "spec.delay.percentage.value: must be from 0 to 100, got -1"),
        Bad("an HTTP status below 200", fault + "{abort: {percentage: {value: 1}, httpStatus: 100}}",
            f + "spec.abort.httpStatus: must be from 200 to 599, got 100"),
        Bad("an HTTP status above 599", fault + "{abort: {percentage: {value: 1}, httpStatus: 600}}",
            f + "spec.abort.httpStatus: must be from 200 to 599, got 600"),
        Bad("a negative delay", fault + "{delay: {percentage: {value: 1}, fixedDelay: -2s}}",
            f + "spec.delay.fixedDelay: '-2s' is negative: a delay holds requests back, so write 0s or more"),
        Bad("an unknown field", fault + "{delay: {percentage: {value: 1}, fixedDelay: 1s, exponentialDelay: 1s}}",
            f + "spec.delay.exponentialDelay: unknown field (known here: fixedDelay, percentage)"),
        Bad("no percentage", fault + "{delay: {fixedDelay: 1s}}",
            f + "spec.delay.percentage: is required: the share of requests affected, such as {value: 10}"),
        Bad("no delay duration", fault + "{delay: {percentage: {value: 1}}}",
            f + "spec.delay.fixedDelay: is required: how long to hold each delayed request, such as 2s"),
        Bad("both statuses", fault + "{abort: {percentage: {value: 1}, httpStatus: 503, grpcStatus: UNAVAILABLE}}",
            f + "spec.abort: set httpStatus or grpcStatus, not both: one abort answers with one status"),
        Bad("no status", fault + "{abort: {percentage: {value: 1}}}",
            f + "spec.abort: needs httpStatus (such as 503) or grpcStatus (such as UNAVAILABLE)"),
        Bad("a gRPC status by number", fault + "{abort: {percentage: {value: 1}, grpcStatus: \"14\"}}",
            f + "spec.abort.grpcStatus: '14' is not a gRPC status; write one of OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED"),
        Bad("neither delay nor abort", fault + "{}", f + "spec: a fault needs a delay, an abort or both"),
        Bad("an ExtensionRef without a kind", L7BadDocumentTests.rule("filters: [{type: ExtensionRef, extensionRef: {group: ambit.dev, name: f}}]"),
            L7BadDocumentTests.r + "spec.rules[0].filters[0].extensionRef.kind: is required"),
        Bad("an ExtensionRef with a namespace", L7BadDocumentTests.rule("filters: [{type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: f, namespace: x}}]"),
            L7BadDocumentTests.r + "spec.rules[0].filters[0].extensionRef.namespace: unknown field (known here: group, kind, name)"),
    ]

    @Test("a bad HTTPFault or ExtensionRef is refused with the field and the reason", arguments: bad)
    func refused(_ bad: Bad) {
        #expect(throws: ResourceError.self) {
            do {
                _ = try ResourceDecoder.decodeFile(bad.text, file: bad.text.contains("HTTPRoute") ? "l7.yaml" : "fault.yaml")
            } catch {
                #expect("\(error)" == bad.message)
                throw error
            }
        }
    }

    @Test("an ExtensionRef filter on a rule and on a backend decodes, and may repeat")
    func extensionRef() throws {
        guard case .httpRoute(let route) = try Self.decode("""
            kind: HTTPRoute
            metadata: {name: r, namespace: shop}
            spec:
              parentRefs: [{kind: Service, name: cart}]
              rules:
              - filters:
                - {type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: slow}}
                - {type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: broken}}
                backendRefs:
                - name: cart
                  port: 80
                  filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Cors, name: c}}]
            """)
        else { Issue.record("not an HTTPRoute"); return }
        #expect(route.rules[0].filters == [.extensionRef(.init(name: "slow")), .extensionRef(.init(name: "broken"))])
        #expect(route.rules[0].backendRefs[0].filters == [.extensionRef(.init(group: "example.com", kind: "Cors", name: "c"))])
    }

    static let base = """
        kind: Namespace
        metadata: {name: shop, labels: {ambit.dev/use-waypoint: waypoint}}
        ---
        kind: Gateway
        metadata: {name: waypoint, namespace: shop}
        spec: {gatewayClassName: ambit-waypoint}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        kind: HTTPFault
        metadata: {name: slow, namespace: shop}
        spec: {delay: {percentage: {value: 50}, fixedDelay: 1s}}
        ---

        """

    static func resolvedRefs(_ filters: String) throws -> Condition? {
        let text = Self.base + """
            kind: HTTPRoute
            metadata: {name: r, namespace: shop}
            spec: {parentRefs: [{kind: Service, name: cart}], rules: [{filters: \(filters), backendRefs: [{name: cart, port: 80}]}]}
            """
        let resources = try ResourceDecoder.decodeFile(text, file: "f")
        return ResourceStatus.conditions(for: resources.last!, in: try MeshSnapshot(resources)).first { $0.type == .resolvedRefs }
    }

    @Test("ResolvedRefs: an existing HTTPFault resolves; a missing one or another kind is reported")
    func status() throws {
        #expect(try Self.resolvedRefs("[{type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: slow}}]")?.status == .true)
        #expect(try Self.resolvedRefs("[{type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: gone}}]")
            == Condition(type: .resolvedRefs, status: .false, reason: .extensionNotFound, message: "HTTPFault shop/gone does not exist"))
        #expect(try Self.resolvedRefs("[{type: ExtensionRef, extensionRef: {group: example.com, kind: Cors, name: c}}]")
            == Condition(type: .resolvedRefs, status: .false, reason: .invalidKind, message: "extension filter Cors.example.com c: only HTTPFault.ambit.dev is supported"))
    }

    @Test("the snapshot finds an HTTPFault only by its own kind, in the route's namespace")
    func lookup() throws {
        let s = try MeshSnapshot(ResourceDecoder.decodeFile(Self.base, file: "f"))
        #expect(s.httpFault(.init(name: "slow"), namespace: "shop")?.delay?.fixedDelay == .seconds(1))
        #expect(s.httpFault(.init(name: "slow"), namespace: "other") == nil)
        #expect(s.httpFault(.init(group: "example.com", kind: "HTTPFault", name: "slow"), namespace: "shop") == nil)
    }
}
