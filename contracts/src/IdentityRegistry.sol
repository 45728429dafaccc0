// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Vitalis identity registry
/// @notice The consortium's list of who may do what on the Vitalis ledger: the supervisor,
/// the anchoring nodes that may publish interval roots, and the institutions (hospitals,
/// researchers, enterprise/government) with their role and approval status.
/// @dev Holds no personal data, ever: only addresses, pseudonymous ids and public keys.
/// The supervisor and its chameleon-hash public key are fixed at genesis; the key is the
/// one under which record commitments are computed, so changing it would invalidate every
/// commitment, root and proof already published.
contract IdentityRegistry {
    /// @notice What kind of institution an account belongs to.
    enum Role {
        Hospital,
        Researcher,
        EnterpriseGovernment
    }

    /// @notice Where an institution stands with the supervisor.
    /// @dev `None` is the zero value of an unregistered address.
    enum Status {
        None,
        Pending,
        Approved,
        Suspended
    }

    /// @dev One institution: `id` fills one slot, `role` and `status` share the next.
    struct Institution {
        bytes32 id;
        Role role;
        Status status;
    }

    /// @notice The supervisor's address, the only account allowed to change the registry.
    address public immutable supervisor;

    /// @notice The supervisor's chameleon-hash public key: a compressed ristretto255 point.
    bytes32 public immutable chameleonPublicKey;

    /// @notice Whether `node` may publish anchors.
    mapping(address node => bool) public isAnchoringNode;

    /// @notice The account registered under a pseudonymous institution id, or zero.
    mapping(bytes32 id => address account) public institutionAccount;

    mapping(address account => Institution) private _institutions;

    /// @notice The registry was created with this supervisor and chameleon-hash public key.
    /// @param supervisor The supervisor's address.
    /// @param chameleonPublicKey The supervisor's chameleon-hash public key.
    event RegistryCreated(address indexed supervisor, bytes32 chameleonPublicKey);

    /// @notice `node` may now publish anchors.
    /// @param node The anchoring node's address.
    event AnchoringNodeAdded(address indexed node);

    /// @notice `node` may no longer publish anchors; its past anchors stay valid.
    /// @param node The former anchoring node's address.
    event AnchoringNodeRemoved(address indexed node);

    /// @notice An institution was registered and awaits approval.
    /// @param account The institution's address.
    /// @param id The institution's pseudonymous id.
    /// @param role The institution's role.
    event InstitutionRegistered(address indexed account, bytes32 indexed id, Role role);

    /// @notice An institution was approved (or reinstated after a suspension).
    /// @param account The institution's address.
    event InstitutionApproved(address indexed account);

    /// @notice An institution was suspended (or, while pending, refused).
    /// @param account The institution's address.
    event InstitutionSuspended(address indexed account);

    /// @notice The caller is not the supervisor.
    error NotSupervisor();

    /// @notice An address argument was the zero address.
    error ZeroAddress();

    /// @notice The chameleon-hash public key was zero.
    error ZeroKey();

    /// @notice The pseudonymous institution id was zero.
    error ZeroInstitutionId();

    /// @notice `node` is already an anchoring node.
    /// @param node The address that was to be added.
    error AnchoringNodeExists(address node);

    /// @notice `node` is not an anchoring node.
    /// @param node The address that was to be removed.
    error UnknownAnchoringNode(address node);

    /// @notice `account` is already registered as an institution.
    /// @param account The address that was to be registered.
    error InstitutionExists(address account);

    /// @notice `id` is already taken by another institution.
    /// @param id The pseudonymous id that was to be registered.
    error InstitutionIdTaken(bytes32 id);

    /// @notice `account` is not a registered institution.
    /// @param account The address that was looked up.
    error UnknownInstitution(address account);

    /// @notice The institution already has the status it was to be given.
    /// @param account The institution's address.
    /// @param status Its current status.
    error StatusUnchanged(address account, Status status);

    /// @dev Restricts a function to the supervisor.
    modifier onlySupervisor() {
        if (msg.sender != supervisor) revert NotSupervisor();
        _;
    }

    /// @notice Creates the registry with its supervisor and the supervisor's chameleon-hash
    /// public key, both fixed for the registry's lifetime.
    /// @param supervisor_ The supervisor's address.
    /// @param chameleonPublicKey_ The supervisor's chameleon-hash public key (compressed
    /// ristretto255 point).
    constructor(address supervisor_, bytes32 chameleonPublicKey_) {
        if (supervisor_ == address(0)) revert ZeroAddress();
        if (chameleonPublicKey_ == bytes32(0)) revert ZeroKey();
        supervisor = supervisor_;
        chameleonPublicKey = chameleonPublicKey_;
        emit RegistryCreated(supervisor_, chameleonPublicKey_);
    }

    /// @notice Lets `node` publish anchors. Supervisor only.
    /// @param node The anchoring node's address.
    function addAnchoringNode(address node) external onlySupervisor {
        if (node == address(0)) revert ZeroAddress();
        if (isAnchoringNode[node]) revert AnchoringNodeExists(node);
        isAnchoringNode[node] = true;
        emit AnchoringNodeAdded(node);
    }

    /// @notice Stops `node` from publishing anchors. Supervisor only.
    /// @param node The anchoring node's address.
    function removeAnchoringNode(address node) external onlySupervisor {
        if (!isAnchoringNode[node]) revert UnknownAnchoringNode(node);
        isAnchoringNode[node] = false;
        emit AnchoringNodeRemoved(node);
    }

    /// @notice Registers an institution with status `Pending`. Supervisor only.
    /// @param account The institution's address.
    /// @param id The institution's pseudonymous id, unique in the registry.
    /// @param role The institution's role.
    function registerInstitution(address account, bytes32 id, Role role) external onlySupervisor {
        if (account == address(0)) revert ZeroAddress();
        if (id == bytes32(0)) revert ZeroInstitutionId();
        if (_institutions[account].status != Status.None) revert InstitutionExists(account);
        if (institutionAccount[id] != address(0)) revert InstitutionIdTaken(id);
        _institutions[account] = Institution({id: id, role: role, status: Status.Pending});
        institutionAccount[id] = account;
        emit InstitutionRegistered(account, id, role);
    }

    /// @notice Approves a pending institution or reinstates a suspended one. Supervisor only.
    /// @param account The institution's address.
    function approveInstitution(address account) external onlySupervisor {
        _setStatus(account, Status.Approved);
        emit InstitutionApproved(account);
    }

    /// @notice Suspends an approved institution or refuses a pending one. Supervisor only.
    /// @param account The institution's address.
    function suspendInstitution(address account) external onlySupervisor {
        _setStatus(account, Status.Suspended);
        emit InstitutionSuspended(account);
    }

    /// @notice The institution registered at `account`.
    /// @param account The address to look up.
    /// @return id The pseudonymous id (zero if unregistered).
    /// @return role The role (`Hospital` if unregistered; check `status`).
    /// @return status The status (`None` if unregistered).
    function institution(address account) external view returns (bytes32 id, Role role, Status status) {
        Institution storage entry = _institutions[account];
        return (entry.id, entry.role, entry.status);
    }

    /// @dev Moves a registered institution to `status`, which must differ from its current one.
    function _setStatus(address account, Status status) private {
        Institution storage entry = _institutions[account];
        Status current = entry.status;
        if (current == Status.None) revert UnknownInstitution(account);
        if (current == status) revert StatusUnchanged(account, current);
        entry.status = status;
    }
}
