import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct DestinationPolicyTests {
    let meta = ObjectMeta(name: "reviews", namespace: "shop")

    func outlier(_ errors: Int) -> DestinationRule.OutlierDetection {
        var detection = DestinationRule.OutlierDetection()
        detection.consecutive5xxErrors = errors
        return detection
    }

    func pool(_ maxConnections: Int) -> DestinationRule.ConnectionPool {
        var pool = DestinationRule.ConnectionPool()
        pool.tcp.maxConnections = maxConnections
        return pool
    }

    var rule: DestinationRule {
        DestinationRule(
            metadata: meta, host: "reviews",
            trafficPolicy: .init(
                loadBalancer: .simple(.roundRobin), connectionPool: pool(100), outlierDetection: outlier(7),
                portLevelSettings: [.init(port: 9080, loadBalancer: .simple(.random))]),
            subsets: [
                .init(name: "v1", labels: ["version": "v1"]),
                .init(
                    name: "v2", labels: ["version": "v2"],
                    trafficPolicy: .init(
                        connectionPool: pool(5),
                        portLevelSettings: [.init(port: 9080, loadBalancer: .consistentHash(.init(key: .useSourceIp)))])),
            ])
    }

    @Test func withoutARuleTheDefaultIsLeastRequestAndNoLimits() throws {
        let policy = try #require(DestinationPolicy(rule: nil, port: 9080))
        #expect(policy.loadBalancer == .simple(.leastRequest))
        #expect(policy.connectionPool == nil)
        #expect(policy.outlierDetection == nil)
        #expect(policy.panicThresholdPercent == 0)
    }

    @Test func topLevelThenPortLevel() throws {
        let otherPort = try #require(DestinationPolicy(rule: rule, port: 8080))
        #expect(otherPort.loadBalancer == .simple(.roundRobin))
        #expect(otherPort.connectionPool == pool(100))
        let port = try #require(DestinationPolicy(rule: rule, port: 9080))
        #expect(port.loadBalancer == .simple(.random))
        #expect(port.connectionPool == pool(100), "fields the port does not set come from the top level")
        #expect(port.outlierDetection == outlier(7))
    }

    @Test func aSubsetWinsFieldByField() throws {
        let v2 = try #require(DestinationPolicy(rule: rule, subset: "v2", port: 9080))
        #expect(v2.loadBalancer == .consistentHash(.init(key: .useSourceIp)))
        #expect(v2.connectionPool == pool(5))
        #expect(v2.outlierDetection == outlier(7))
        let v2OtherPort = try #require(DestinationPolicy(rule: rule, subset: "v2", port: 8080))
        #expect(v2OtherPort.loadBalancer == .simple(.roundRobin))
        // A subset without its own policy takes the rule's, port level included.
        let v1 = try #require(DestinationPolicy(rule: rule, subset: "v1", port: 9080))
        #expect(v1.loadBalancer == .simple(.random))
    }

    @Test func subsetsSelectEndpointsByLabels() throws {
        let endpoints = makeEndpoints(3, version: "v1") + makeEndpoints(2, version: "v2", firstOctet: 2)
        let v2 = try #require(DestinationPolicy(rule: rule, subset: "v2", port: 9080))
        #expect(v2.members(of: endpoints) == Array(endpoints.suffix(2)))
        #expect(try #require(DestinationPolicy(rule: rule, port: 9080)).members(of: endpoints) == endpoints)
        var balancer = try #require(EndpointBalancer(endpoints: endpoints, policy: v2, random: FastRandom(seed: 1)))
        #expect(balancer.endpoints.count == 2)
        #expect(balancer.hashKey == .useSourceIp)
        #expect(balancer.pick(hash: 42)?.endpoint.labels["version"] == "v2")
    }

    @Test func anUnknownSubsetResolvesToNothing() {
        #expect(DestinationPolicy(rule: rule, subset: "v9", port: 9080) == nil)
        #expect(DestinationPolicy(rule: nil, subset: "v1", port: 9080) == nil)
    }

    @Test func passthroughHasNoBalancer() throws {
        let passthrough = DestinationRule(metadata: meta, host: "reviews", trafficPolicy: .init(loadBalancer: .simple(.passthrough)))
        let policy = try #require(DestinationPolicy(rule: passthrough, port: 9080))
        #expect(EndpointBalancer(endpoints: makeEndpoints(2), policy: policy) == nil)
    }

    @Test func minHealthPercentBecomesThePanicThreshold() throws {
        var detection = DestinationRule.OutlierDetection()
        detection.minHealthPercent = 40
        let withMin = DestinationRule(metadata: meta, host: "reviews", trafficPolicy: .init(outlierDetection: detection))
        let policy = try #require(DestinationPolicy(rule: withMin, port: 9080))
        #expect(policy.panicThresholdPercent == 40)
        #expect(try #require(EndpointBalancer(endpoints: makeEndpoints(2), policy: policy)).panicThresholdPercent == 40)
    }
}
