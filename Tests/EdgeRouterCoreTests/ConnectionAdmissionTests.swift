@testable import EdgeRouterCore
import Foundation
import Testing

/// The connection cap and its refusal, without sockets.
struct ConnectionAdmissionTests {
    @Test func admitsUpToTheLimitAndOneMoreAfterARelease() {
        let admission = ConnectionAdmission(limit: 3)
        #expect((0..<3).map { _ in admission.admit() } == [true, true, true])
        #expect(!admission.admit(), "the fourth is refused")
        #expect(admission.count == 3, "a refusal holds nothing")
        admission.release()
        #expect(admission.admit())
        #expect(!admission.admit())
    }

    @Test func concurrentAdmissionsNeverExceedTheLimit() async {
        let admission = ConnectionAdmission(limit: 100)
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<1000).reduce(0) { count, _ in count + (admission.admit() ? 1 : 0) } }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 100)
        #expect(admission.count == 100)
    }

    @Test func theRefusalIsA503ProblemThatClosesAndSaysWhenToRetry() throws {
        let answer = String(decoding: ConnectionRefusalHandler.answer(maximumConnections: 42), as: UTF8.self)
        let parts = answer.components(separatedBy: "\r\n\r\n")
        try #require(parts.count == 2)
        let lines = parts[0].components(separatedBy: "\r\n")
        #expect(lines[0] == "HTTP/1.1 503 Service Unavailable")
        let fields = Set(lines.dropFirst())
        #expect(fields.isSuperset(of: ["Content-Type: application/problem+json", "Retry-After: 1", "Connection: close", "Content-Length: \(parts[1].utf8.count)"]))
        let problem = try #require(try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any])
        #expect(problem["status"] as? Int == 503)
        #expect((problem["detail"] as? String)?.contains("42 connections") == true)
    }

    @Test func theOpenFileLimitIsRaisedToHoldTheConnectionsAsFarAsTheHardLimitAllows() {
        #expect(FileDescriptorLimit.softLimit(soft: 1024, hard: 524_288, needed: 11_024) == 11_024)
        #expect(FileDescriptorLimit.softLimit(soft: 1024, hard: 4096, needed: 11_024) == 4096, "at most the hard limit")
        #expect(FileDescriptorLimit.softLimit(soft: 65_536, hard: 65_536, needed: 11_024) == 65_536, "never lowered")
        #expect(FileDescriptorLimit.softLimit(soft: 1024, hard: .max, needed: 2048) == 2048, "an unlimited hard limit")
    }
}
