import Foundation
import Testing

@testable import PortenHub

struct EnrollmentStoreTests {
    let policy = EnrollmentPolicy(region: "eu", trustClass: "verified")
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func approver(_ store: HubStore) throws -> User {
        let account = try store.createAccount(name: "acme")
        return try store.createUser(accountID: account.id, email: "a@x.io", displayName: "A", role: .owner)
    }

    @Test func userCodesAreShortUnambiguousAndForgiving() {
        for _ in 0..<200 {
            let code = HubStore.randomUserCode()
            #expect(code.count == 9 && code.dropFirst(4).first == "-")
            #expect(code.allSatisfy { $0 == "-" || HubStore.userCodeAlphabet.contains($0) })
            #expect(!code.contains(where: { "AEIOU01".contains($0) }))
        }
        #expect(HubStore.normalizedUserCode(" bcdf ghjk ") == "BCDF-GHJK")
        #expect(HubStore.normalizedUserCode("bcdf+ghjk") == "BCDF-GHJK")
        for bad in ["", "BCDF-GHJ", "BCDF-GHJKL", "BCDF-GH0K", "ABCD-EFGH", "BCDF_GHJK"] { #expect(HubStore.normalizedUserCode(bad) == nil, "\(bad)") }
    }

    @Test func aCodeIsPendingThenIssuedOnceAfterApproval() throws {
        let store = try HubStore.inMemory()
        let user = try approver(store)
        let (device, authorization) = try store.startDeviceAuthorization(machineName: "box", lifetime: 600, interval: 5, now: now)
        #expect(try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 5) == .pending)
        #expect(try store.pendingDeviceAuthorization(userCode: authorization.userCode, now: now + 6)?.machineName == "box")
        #expect(try store.decideDeviceAuthorization(userCode: authorization.userCode, approve: true, by: user, machineName: "gpu-1", now: now + 7) != nil)
        // Decided: neither pending nor decidable again.
        #expect(try store.pendingDeviceAuthorization(userCode: authorization.userCode, now: now + 8) == nil)
        #expect(try store.decideDeviceAuthorization(userCode: authorization.userCode, approve: false, by: user, machineName: "x", now: now + 8) == nil)
        guard case .issued(let node, let credential) = try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 10) else {
            Issue.record("expected a credential")
            return
        }
        #expect(node.name == "gpu-1" && node.accountID == user.accountID && node.region == "eu" && node.trustClass == "verified")
        #expect(try store.authenticateNode(credential)?.id == node.id)
        #expect(try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 20) == .invalid)
    }

    @Test func pollingTooFastSlowsDownAndTheIntervalGrows() throws {
        let store = try HubStore.inMemory()
        let (device, _) = try store.startDeviceAuthorization(machineName: "box", lifetime: 600, interval: 5, now: now)
        #expect(try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 5) == .pending)
        #expect(try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 6) == .slowDown(interval: 10))
        #expect(try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 12) == .slowDown(interval: 15))
        #expect(try store.pollDeviceAuthorization(deviceCode: device, policy: policy, now: now + 27) == .pending)
    }

    @Test func deniedExpiredAndUnknownCodes() throws {
        let store = try HubStore.inMemory()
        let user = try approver(store)
        let (denied, authorization) = try store.startDeviceAuthorization(machineName: "box", lifetime: 600, now: now)
        _ = try store.decideDeviceAuthorization(userCode: authorization.userCode, approve: false, by: user, machineName: "box", now: now)
        #expect(try store.pollDeviceAuthorization(deviceCode: denied, policy: policy, now: now + 5) == .denied)
        let (late, lateAuthorization) = try store.startDeviceAuthorization(machineName: "box", lifetime: 60, now: now)
        #expect(try store.decideDeviceAuthorization(userCode: lateAuthorization.userCode, approve: true, by: user, machineName: "b", now: now + 61) == nil)
        #expect(try store.pollDeviceAuthorization(deviceCode: late, policy: policy, now: now + 61) == .expired)
        #expect(try store.pollDeviceAuthorization(deviceCode: "nope", policy: policy, now: now) == .invalid)
        #expect(try store.pollDeviceAuthorization(deviceCode: String(repeating: "x", count: 10_000), policy: policy, now: now) == .invalid)
        #expect(try store.nodes().isEmpty)
    }

    @Test func enrollmentTokensCountUsesExpireAndRevoke() throws {
        let store = try HubStore.inMemory()
        let account = try store.createAccount(name: "acme")
        let (token, plain) = try store.createEnrollmentToken(accountID: account.id, namePrefix: "rack", usesAllowed: 2, lifetime: 3600, now: now)
        #expect(plain.hasPrefix("penroll-") && !token.displayPrefix.contains(String(plain.suffix(32))))
        let first = try store.enroll(token: plain, machineName: nil, policy: policy, address: "10.0.0.1", now: now)
        #expect(first.node.name == "rack-1" && first.node.region == "eu")
        #expect(try store.enroll(token: plain, machineName: "named", policy: policy, address: nil, now: now).node.name == "named")
        #expect(throws: HubStore.EnrollmentRefusal.usedUp) { try store.enroll(token: plain, machineName: nil, policy: policy, address: nil, now: now) }
        #expect(try store.enrollmentTokens(accountID: account.id).first?.uses == 2)

        let (other, otherPlain) = try store.createEnrollmentToken(accountID: account.id, namePrefix: "n", usesAllowed: 5, lifetime: 60, now: now)
        #expect(throws: HubStore.EnrollmentRefusal.expired) { try store.enroll(token: otherPlain, machineName: nil, policy: policy, address: nil, now: now + 61) }
        #expect(try !store.revokeEnrollmentToken(id: other.id, accountID: "acct_someone_else"))
        #expect(try store.revokeEnrollmentToken(id: other.id, accountID: account.id))
        #expect(throws: HubStore.EnrollmentRefusal.revoked) { try store.enroll(token: otherPlain, machineName: nil, policy: policy, address: nil, now: now) }
        #expect(throws: HubStore.EnrollmentRefusal.unknown) { try store.enroll(token: otherPlain + "x", machineName: nil, policy: policy, address: nil, now: now) }
        #expect(throws: HubStore.EnrollmentRefusal.unknown) { try store.enroll(token: "sk-porten-x", machineName: nil, policy: policy, address: nil, now: now) }
        try store.disableAccount(id: account.id)
        let (_, live) = try store.createEnrollmentToken(accountID: account.id, namePrefix: "n", usesAllowed: 5, lifetime: 60, now: now)
        #expect(throws: HubStore.EnrollmentRefusal.unknown) { try store.enroll(token: live, machineName: nil, policy: policy, address: nil, now: now) }
    }
}
