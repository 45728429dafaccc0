// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Naive on-chain row store (benchmark baseline only)
/// @notice Stores wearable readings on chain, one transaction per upload, one storage slot
/// and one event per reading: the usual approach that Vitalis avoids by keeping records
/// off-chain and anchoring only a Merkle root per interval.
/// @dev Exists only to measure the cost of that naive approach against `Anchors`. It is
/// never deployed by the product: it has no access control and puts readings, which are
/// personal data, on chain for good.
contract RowStore {
    /// @notice One reading as a device uploads it.
    /// @param metric The metric's number in the catalog.
    /// @param t The reading's time, UTC milliseconds since the epoch.
    /// @param value The reading's value in the metric's canonical unit, fixed-point.
    struct Reading {
        uint16 metric;
        uint64 t;
        int64 value;
    }

    /// @dev A patient's readings in upload order; a `Reading` packs into one slot.
    mapping(bytes32 patient => Reading[]) private _readings;

    /// @notice A reading was stored.
    /// @param patient The patient's pseudonymous id.
    /// @param metric The metric's number in the catalog.
    /// @param t The reading's time, UTC milliseconds.
    /// @param value The reading's value.
    event ReadingStored(bytes32 indexed patient, uint16 indexed metric, uint64 t, int64 value);

    /// @notice Stores an upload of readings for `patient`, one storage slot and one event each.
    /// @param patient The patient's pseudonymous id.
    /// @param readings The readings to store.
    function storeReadings(bytes32 patient, Reading[] calldata readings) external {
        Reading[] storage stored = _readings[patient];
        uint256 count = readings.length;
        for (uint256 i = 0; i < count; ++i) {
            Reading calldata reading = readings[i];
            stored.push(reading);
            emit ReadingStored(patient, reading.metric, reading.t, reading.value);
        }
    }

    /// @notice The number of readings stored for `patient`.
    /// @param patient The patient's pseudonymous id.
    /// @return The number of readings.
    function readingCount(bytes32 patient) external view returns (uint256) {
        return _readings[patient].length;
    }

    /// @notice The reading of `patient` at `index`, in upload order.
    /// @param patient The patient's pseudonymous id.
    /// @param index The reading's position, counting from zero.
    /// @return The reading.
    function readingAt(bytes32 patient, uint256 index) external view returns (Reading memory) {
        return _readings[patient][index];
    }
}
