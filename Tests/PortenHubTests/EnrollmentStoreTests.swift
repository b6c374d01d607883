import Foundation
import Testing

@testable import PortenHub

struct EnrollmentStoreTests {
    let policy = EnrollmentPolicy(region: "eu", trustClass: "verified")
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func approver(_ store: any HubStore) async throws -> User {
        let account = try await store.createAccount(name: "acme")
        return try await store.createUser(accountID: account.id, email: "a@x.io", displayName: "A", role: .owner)
    }

    @Test func userCodesAreShortUnambiguousAndForgiving() {
        for _ in 0..<200 {
            let code = UserCode.random()
            #expect(code.count == 9 && code.dropFirst(4).first == "-")
            #expect(code.allSatisfy { $0 == "-" || UserCode.alphabet.contains($0) })
            #expect(!code.contains(where: { "AEIOU01".contains($0) }))
        }
        #expect(UserCode.normalized(" bcdf ghjk ") == "BCDF-GHJK")
        #expect(UserCode.normalized("bcdf+ghjk") == "BCDF-GHJK")
        for bad in ["", "BCDF-GHJ", "BCDF-GHJKL", "BCDF-GH0K", "ABCD-EFGH", "BCDF_GHJK"] { #expect(UserCode.normalized(bad) == nil, "\(bad)") }
    }

    @Test(arguments: StoreEngine.allCases) func aCodeIsPendingThenIssuedOnceAfterApproval(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let user = try await approver(store)
            let (device, authorization) = try await store.startDeviceAuthorization(machineName: "box", lifetime: 600, interval: 5, now: now)
            #expect(try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 5) == .pending)
            #expect(try await store.pendingDeviceAuthorization(userCode: authorization.userCode, now: now + 6)?.machineName == "box")
            #expect(try await store.decideDeviceAuthorization(userCode: authorization.userCode, approve: true, by: user, machineName: "gpu-1", now: now + 7) != nil)
            // Decided: neither pending nor decidable again.
            #expect(try await store.pendingDeviceAuthorization(userCode: authorization.userCode, now: now + 8) == nil)
            #expect(try await store.decideDeviceAuthorization(userCode: authorization.userCode, approve: false, by: user, machineName: "x", now: now + 8) == nil)
            guard case .issued(let node, let credential) = try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 10) else {
                Issue.record("expected a credential")
                return
            }
            #expect(node.name == "gpu-1" && node.accountID == user.accountID && node.region == "eu" && node.trustClass == "verified")
            #expect(try await store.authenticateNode(credential)?.id == node.id)
            #expect(try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 20) == .invalid)
        }
    }

    @Test(arguments: StoreEngine.allCases) func pollingTooFastSlowsDownAndTheIntervalGrows(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let (device, _) = try await store.startDeviceAuthorization(machineName: "box", lifetime: 600, interval: 5, now: now)
            #expect(try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 5) == .pending)
            #expect(try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 6) == .slowDown(interval: 10))
            #expect(try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 12) == .slowDown(interval: 15))
            #expect(try await store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 27) == .pending)
        }
    }

    @Test(arguments: StoreEngine.allCases) func deniedExpiredAndUnknownCodes(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let user = try await approver(store)
            let (denied, authorization) = try await store.startDeviceAuthorization(machineName: "box", lifetime: 600, interval: 5, now: now)
            _ = try await store.decideDeviceAuthorization(userCode: authorization.userCode, approve: false, by: user, machineName: "box", now: now)
            #expect(try await store.pollDeviceAuthorization(deviceCode: denied, policy: policy, now: now + 5) == .denied)
            let (late, lateAuthorization) = try await store.startDeviceAuthorization(machineName: "box", lifetime: 60, interval: 5, now: now)
            #expect(try await store.decideDeviceAuthorization(userCode: lateAuthorization.userCode, approve: true, by: user, machineName: "b", now: now + 61) == nil)
            #expect(try await store.pollDeviceAuthorization(deviceCode: late, policy: policy, now: now + 61) == .expired)
            #expect(try await store.pollDeviceAuthorization(deviceCode: "nope", policy: policy, now: now) == .invalid)
            #expect(try await store.pollDeviceAuthorization(deviceCode: String(repeating: "x", count: 10_000), policy: policy, now: now) == .invalid)
            #expect(try await store.nodes().isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases) func enrollmentTokensCountUsesExpireAndRevoke(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let (token, plain) = try await store.createEnrollmentToken(accountID: account.id, namePrefix: "rack", usesAllowed: 2, lifetime: 3600, now: now)
            #expect(plain.hasPrefix("penroll-") && !token.displayPrefix.contains(String(plain.suffix(32))))
            let first = try await store.enroll(token: plain, machineName: nil, policy: policy, address: "10.0.0.1", now: now)
            #expect(first.node.name == "rack-1" && first.node.region == "eu")
            #expect(try await store.enroll(token: plain, machineName: "named", policy: policy, address: nil, now: now).node.name == "named")
            await #expect(throws: EnrollmentRefusal.usedUp) { try await store.enroll(token: plain, machineName: nil, policy: policy, address: nil, now: now) }
            #expect(try await store.enrollmentTokens(accountID: account.id).first?.uses == 2)

            let (other, otherPlain) = try await store.createEnrollmentToken(accountID: account.id, namePrefix: "n", usesAllowed: 5, lifetime: 60, now: now)
            await #expect(throws: EnrollmentRefusal.expired) { try await store.enroll(token: otherPlain, machineName: nil, policy: policy, address: nil, now: now + 61) }
            #expect(try await !store.revokeEnrollmentToken(id: other.id, accountID: "acct_someone_else"))
            #expect(try await store.revokeEnrollmentToken(id: other.id, accountID: account.id))
            await #expect(throws: EnrollmentRefusal.revoked) { try await store.enroll(token: otherPlain, machineName: nil, policy: policy, address: nil, now: now) }
            await #expect(throws: EnrollmentRefusal.unknown) { try await store.enroll(token: otherPlain + "x", machineName: nil, policy: policy, address: nil, now: now) }
            await #expect(throws: EnrollmentRefusal.unknown) { try await store.enroll(token: "sk-porten-x", machineName: nil, policy: policy, address: nil, now: now) }
            try await store.disableAccount(id: account.id)
            let (_, live) = try await store.createEnrollmentToken(accountID: account.id, namePrefix: "n", usesAllowed: 5, lifetime: 60, now: now)
            await #expect(throws: EnrollmentRefusal.unknown) { try await store.enroll(token: live, machineName: nil, policy: policy, address: nil, now: now) }
        }
    }
}
