import Foundation
import Testing
import BridgebackCore

@Suite struct IdentifierTests {
    @Test func jobIDRoundTripsAndEncodesTime() throws {
        var generator = SeededGenerator(seed: 1)
        let id = JobID.make(at: Fixtures.now, using: &generator)
        #expect(id.description.hasPrefix("job_"))
        #expect(id.description.count == 30)
        #expect(id.milliseconds == 1_760_000_000_000)
        #expect(try JobID(parsing: id.description) == id)
        #expect(try JobID(parsing: id.description.lowercased().replacingOccurrences(of: "job_", with: "job_")) == id)
        #expect(JobID(id.description) == id)
    }

    @Test func jobIDsSortByTimeAsTextAndAsValues() {
        var generator = SeededGenerator(seed: 2)
        var ids: [JobID] = []
        for step in 0..<200 {
            ids.append(JobID.make(at: Fixtures.now.addingTimeInterval(Double(step) * 0.0017 + Double(step / 10) * 3600), using: &generator))
        }
        #expect(ids == ids.sorted())
        #expect(ids.map(\.description) == ids.map(\.description).sorted())
    }

    @Test func generatorIsMonotonicWithinOneMillisecond() {
        var generator = SeededGenerator(seed: 3)
        var ids = JobIDGenerator()
        let made = (0..<1000).map { _ in ids.next(at: Fixtures.now, using: &generator) }
        #expect(Set(made).count == 1000)
        #expect(made == made.sorted())
        #expect(made.map(\.description) == made.map(\.description).sorted())
    }

    @Test func uniqueAcrossManyIDs() {
        let ids = (0..<10_000).map { _ in JobID.make() }
        #expect(Set(ids).count == 10_000)
    }

    @Test(arguments: [
        "", "job_", "01JD3Z6Q8R0000000000000000", "job_01JD3Z6Q8R000000000000000", "job_01JD3Z6Q8R00000000000000000",
        "job_01JD3Z6Q8R000000000000000I", "job_01JD3Z6Q8R000000000000000U", "job_81JD3Z6Q8R0000000000000000",
        "dlv_01JD3Z6Q8R0000000000000000",
    ])
    func invalidJobIDsAreRejected(_ text: String) {
        #expect(throws: BridgebackError.self) { try JobID(parsing: text) }
        do {
            _ = try JobID(parsing: text)
        } catch {
            #expect(error.code == .invalidJobID)
        }
    }

    @Test func maxULIDParses() throws {
        let id = try JobID(parsing: "job_7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        #expect(id.description == "job_7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        #expect(try JobID(parsing: "job_00000000000000000000000000").milliseconds == 0)
    }

    @Test func deliveryIDIsStableAndParses() throws {
        let job = Fixtures.jobID
        let first = DeliveryID(job: job, part: 3)
        #expect(first == DeliveryID(job: job, part: 3))
        #expect(first.description == "dlv_\(job.ulid)_3")
        #expect(DeliveryID(job: job, part: 3, purpose: .fallback).description == "dlv_\(job.ulid)_fallback_3")
        #expect(first != DeliveryID(job: job, part: 3, purpose: .fallback))
        #expect(try DeliveryID(parsing: first.description) == first)
        let fallback = DeliveryID(job: job, part: 1, purpose: .fallback)
        #expect(try DeliveryID(parsing: fallback.description) == fallback)
        for bad in [
            "dlv_x_1", "dlv_\(job.ulid)_0", "dlv_\(job.ulid)_01", "dlv_\(job.ulid)", "msg_\(job.ulid)_1", "dlv_\(job.ulid)_other_1",
        ] {
            #expect(throws: BridgebackError.self) { try DeliveryID(parsing: bad) }
        }
    }

    @Test func surfaceIDValidation() throws {
        #expect(try SurfaceID(validating: "cli:alice").rawValue == "cli:alice")
        for bad in ["", "has space", "ünï", String(repeating: "a", count: 129)] {
            #expect(throws: BridgebackError.self) { try SurfaceID(validating: bad) }
        }
    }
}

@Suite("Schema tags")
struct SchemaTagTests {
    /// Version 1's tags are written as literals; each reads as `bridgeback.<kind>.v<version>` and parses back.
    @Test func everyTagReadsAsItsPartsAndParsesBack() throws {
        for kind in MessageSchema.Kind.allCases {
            let tag = MessageSchema(kind, version: 1)
            #expect(tag.description == "bridgeback.\(kind.rawValue).v1")
            #expect(try MessageSchema(parsing: tag.description) == tag)
        }
        #expect(MessageSchema(.completion, version: 2).description == "bridgeback.completion.v2")
    }
}

@Suite("Id text")
struct IDTextTests {
    /// A known value, its digits worked out independently (Crockford base32 of the 128 bits, 3 then 5 per digit).
    @Test func aKnownIDReadsAsItsDigits() throws {
        let id = JobID(milliseconds: 1_765_000_000_000, randomHigh: 0xBEEF, randomLow: 0x0123_4567_89AB_CDEF)
        #expect(id.description == "job_01KBS35CG0QVQG28T5CY4TQKFF")
        #expect(id.ulid == "01KBS35CG0QVQG28T5CY4TQKFF")
        #expect(DeliveryID(job: id, part: 12).description == "dlv_01KBS35CG0QVQG28T5CY4TQKFF_12")
        #expect(DeliveryID(job: id, part: 1, purpose: .fallback).description == "dlv_01KBS35CG0QVQG28T5CY4TQKFF_fallback_1")
        #expect(try JobID(parsing: id.description) == id)
    }
}
