// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title Vitalis access log
/// @notice Batches of access-log entries: every interval, an anchoring node publishes the
/// number of entries it logged and the Merkle root over their hashes (RFC 6962), so that no
/// entry can later be removed or altered without the root no longer matching. The entries
/// themselves (who read whose data, what, when, for which purpose) stay in the node's store.
/// @dev Entry ids are consecutive per node: a batch covers `firstEntry .. firstEntry +
/// entryCount - 1`, and each batch must start where that node's previous one ended, so a
/// missing batch is visible on chain.
contract AccessLog {
    /// @dev One batch: two slots.
    struct Batch {
        address node;
        uint32 entryCount;
        uint64 firstEntry;
        uint64 blockNumber;
        uint64 index;
    }

    /// @notice The registry that says which nodes may publish.
    IdentityRegistry public immutable registry;

    /// @notice The first entry id each node's next batch must start with.
    mapping(address node => uint64) public nextEntry;

    bytes32[] private _roots;
    mapping(bytes32 root => Batch) private _batches;

    /// @notice A batch of access-log entries was committed.
    /// @param index The batch's position.
    /// @param root Merkle root over the entries' hashes.
    /// @param node The publishing node.
    /// @param firstEntry The first entry id covered.
    /// @param entryCount How many entries.
    event Committed(
        uint256 indexed index, bytes32 indexed root, address indexed node, uint64 firstEntry, uint32 entryCount
    );

    /// @notice The caller is not an anchoring node of the registry.
    /// @param caller The caller.
    error NotAnchoringNode(address caller);
    /// @notice The batch does not start where the node's previous batch ended.
    /// @param expected The entry id the batch must start with.
    error Gap(uint64 expected);
    /// @notice The root is zero or the batch is empty.
    error EmptyBatch();
    /// @notice The root was committed before.
    /// @param root The root.
    error AlreadyCommitted(bytes32 root);
    /// @notice No batch has this root.
    /// @param root The root.
    error UnknownRoot(bytes32 root);
    /// @notice An address argument was the zero address.
    error ZeroAddress();

    /// @notice Creates the access log over `registry_`.
    /// @param registry_ The identity registry.
    constructor(IdentityRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @notice Commits a batch of entries. Anchoring nodes only.
    /// @param root Merkle root over the entries' hashes.
    /// @param firstEntry The first entry id, which must be the node's `nextEntry`.
    /// @param entryCount How many entries (at least one).
    /// @return index The batch's position.
    function commit(bytes32 root, uint64 firstEntry, uint32 entryCount) external returns (uint256 index) {
        if (!registry.isAnchoringNode(msg.sender)) revert NotAnchoringNode(msg.sender);
        if (root == bytes32(0) || entryCount == 0) revert EmptyBatch();
        if (_batches[root].node != address(0)) revert AlreadyCommitted(root);
        uint64 expected = nextEntry[msg.sender];
        if (firstEntry != expected) revert Gap(expected);
        nextEntry[msg.sender] = expected + entryCount;
        index = _roots.length;
        _roots.push(root);
        _batches[root] = Batch({
            node: msg.sender,
            entryCount: entryCount,
            firstEntry: firstEntry,
            blockNumber: uint64(block.number),
            index: uint64(index)
        });
        emit Committed(index, root, msg.sender, firstEntry, entryCount);
    }

    /// @notice Number of committed batches.
    /// @return The count.
    function batchCount() external view returns (uint256) {
        return _roots.length;
    }

    /// @notice The batch with `root`.
    /// @param root The batch's root.
    /// @return node The publishing node.
    /// @return firstEntry The first entry id.
    /// @return entryCount How many entries.
    /// @return blockNumber The block it was committed in.
    /// @return index Its position.
    function batchOf(bytes32 root)
        external
        view
        returns (address node, uint64 firstEntry, uint32 entryCount, uint64 blockNumber, uint64 index)
    {
        Batch storage entry = _batches[root];
        if (entry.node == address(0)) revert UnknownRoot(root);
        return (entry.node, entry.firstEntry, entry.entryCount, entry.blockNumber, entry.index);
    }

    /// @notice Whether a batch with `root` was committed.
    /// @param root The root.
    /// @return True if committed.
    function isCommitted(bytes32 root) external view returns (bool) {
        return _batches[root].node != address(0);
    }
}
