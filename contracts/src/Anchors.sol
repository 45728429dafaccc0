// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title Vitalis interval anchors
/// @notice Publishes, per interval, the Merkle root of the record commitments stored
/// off-chain in that interval, so that anyone can later check that a record existed by
/// then and has not changed since.
/// @dev Only anchoring nodes of the registry may anchor. A root can be anchored once: a
/// transaction retried after a crash reverts with `AlreadyAnchored` instead of anchoring
/// twice. Storage per anchor is three fresh slots: the root in the index list, and two
/// slots of packed fields keyed by the root (node, count and start in the first; end,
/// block number and index in the second).
contract Anchors {
    /// @dev The fields of an anchor, keyed by its root. Field order is chosen for packing:
    /// `node`, `recordCount` and `intervalStart` fill one slot; the rest fill the second.
    struct AnchorData {
        address node;
        uint32 recordCount;
        uint64 intervalStart;
        uint64 intervalEnd;
        uint64 blockNumber;
        uint64 index;
    }

    /// @notice The registry whose anchoring nodes may anchor.
    IdentityRegistry public immutable registry;

    /// @dev Anchored roots in anchoring order; an anchor's index is its position here.
    bytes32[] private _roots;

    /// @dev Anchor fields by root. `node` is never zero for an anchored root.
    mapping(bytes32 root => AnchorData) private _anchors;

    /// @notice A root was anchored.
    /// @param index The anchor's position, counting from zero.
    /// @param root The Merkle root of the interval's record commitments.
    /// @param node The anchoring node that published it.
    /// @param recordCount The number of record commitments under the root.
    /// @param intervalStart The interval's first instant, UTC milliseconds since the epoch.
    /// @param intervalEnd The interval's last instant, UTC milliseconds since the epoch.
    event Anchored(
        uint256 indexed index,
        bytes32 indexed root,
        address indexed node,
        uint32 recordCount,
        uint64 intervalStart,
        uint64 intervalEnd
    );

    /// @notice The caller is not an anchoring node of the registry.
    /// @param caller The caller's address.
    error NotAnchoringNode(address caller);

    /// @notice The root was anchored before.
    /// @param root The root.
    error AlreadyAnchored(bytes32 root);

    /// @notice The root was zero.
    error ZeroRoot();

    /// @notice The record count was zero: there is nothing to anchor.
    error EmptyAnchor();

    /// @notice The interval starts after it ends.
    error BadInterval();

    /// @notice The root has not been anchored.
    /// @param root The root that was looked up.
    error UnknownRoot(bytes32 root);

    /// @notice There is no anchor at this index.
    /// @param index The index that was looked up.
    error IndexOutOfRange(uint256 index);

    /// @notice The registry address was zero.
    error ZeroAddress();

    /// @notice Creates the anchor list, trusting the anchoring nodes of `registry_`.
    /// @param registry_ The identity registry.
    constructor(IdentityRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @notice Anchors the Merkle root of an interval's record commitments. Anchoring
    /// nodes only.
    /// @param root The Merkle root; must not be zero or anchored before.
    /// @param recordCount The number of record commitments under the root; at least one.
    /// @param intervalStart The interval's first instant, UTC milliseconds since the epoch.
    /// @param intervalEnd The interval's last instant, UTC milliseconds; not before the start.
    /// @return index The new anchor's position, counting from zero.
    function anchor(bytes32 root, uint32 recordCount, uint64 intervalStart, uint64 intervalEnd)
        external
        returns (uint256 index)
    {
        if (!registry.isAnchoringNode(msg.sender)) revert NotAnchoringNode(msg.sender);
        if (root == bytes32(0)) revert ZeroRoot();
        if (recordCount == 0) revert EmptyAnchor();
        if (intervalStart > intervalEnd) revert BadInterval();
        if (_anchors[root].node != address(0)) revert AlreadyAnchored(root);

        index = _roots.length;
        _roots.push(root);
        // Assigned whole so that each of the two slots is written by a single store.
        _anchors[root] = AnchorData({
            node: msg.sender,
            recordCount: recordCount,
            intervalStart: intervalStart,
            intervalEnd: intervalEnd,
            blockNumber: uint64(block.number),
            index: uint64(index)
        });
        emit Anchored(index, root, msg.sender, recordCount, intervalStart, intervalEnd);
    }

    /// @notice The number of anchors.
    /// @return The number of anchors.
    function anchorCount() external view returns (uint256) {
        return _roots.length;
    }

    /// @notice The anchor at `index`.
    /// @param index The anchor's position, counting from zero.
    /// @return root The Merkle root.
    /// @return recordCount The number of record commitments under the root.
    /// @return intervalStart The interval's first instant, UTC milliseconds.
    /// @return intervalEnd The interval's last instant, UTC milliseconds.
    /// @return node The anchoring node that published it.
    /// @return blockNumber The block it was anchored in.
    function anchorAt(uint256 index)
        external
        view
        returns (
            bytes32 root,
            uint32 recordCount,
            uint64 intervalStart,
            uint64 intervalEnd,
            address node,
            uint64 blockNumber
        )
    {
        if (index >= _roots.length) revert IndexOutOfRange(index);
        root = _roots[index];
        AnchorData storage entry = _anchors[root];
        return (root, entry.recordCount, entry.intervalStart, entry.intervalEnd, entry.node, entry.blockNumber);
    }

    /// @notice The index of the anchor of `root`.
    /// @param root The Merkle root.
    /// @return The anchor's position, counting from zero.
    function indexOf(bytes32 root) external view returns (uint256) {
        AnchorData storage entry = _anchors[root];
        if (entry.node == address(0)) revert UnknownRoot(root);
        return entry.index;
    }

    /// @notice Whether `root` has been anchored.
    /// @param root The Merkle root.
    /// @return True if it has been anchored.
    function isAnchored(bytes32 root) external view returns (bool) {
        return _anchors[root].node != address(0);
    }
}
