// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title Vitalis consent
/// @notice A patient's grants of access to an institution, and their revocations, each
/// signed by the patient's own key as EIP-712 typed data and verified here, so that no
/// one but the patient can create or revoke consent: whoever submits the transaction
/// (usually the patient's Vitalis node, which pays the gas) cannot forge it.
/// @dev A patient is known here only by the address of their consent key; institutions by
/// their address in the identity registry. Personal data never reaches the chain: the
/// purpose is a hash of its text, metrics a bit set over the Vitalis metric catalog.
/// Replay: every signature carries the patient's next nonce, which this contract consumes,
/// so a signature counts once. Signatures must be canonical (low `s`, EIP-2).
contract Consent {
    /// @notice Access bits of a grant.
    uint8 public constant ACCESS_READ = 1;
    /// @notice Access bits of a grant.
    uint8 public constant ACCESS_WRITE = 2;
    /// @notice Section bits of a grant.
    uint8 public constant SECTION_OPEN = 1;
    /// @notice Section bits of a grant.
    uint8 public constant SECTION_PROTECTED = 2;

    /// @notice EIP-712 type of a grant.
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,uint8 access,uint8 sections,uint64 metrics,bytes32 purpose,uint64 expiresAt,uint64 nonce)"
    );
    /// @notice EIP-712 type of a revocation.
    bytes32 public constant REVOKE_TYPEHASH = keccak256("Revoke(address patient,bytes32 grantId,uint64 nonce)");

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice A grant as signed by the patient.
    struct Grant {
        address patient;
        address grantee;
        uint8 access;
        uint8 sections;
        uint64 metrics;
        bytes32 purpose;
        uint64 expiresAt;
        uint64 nonce;
    }

    /// @notice What is kept of a grant (two slots).
    struct GrantState {
        address patient;
        uint8 access;
        uint8 sections;
        uint64 expiresAt;
        bool revoked;
        address grantee;
        uint64 metrics;
    }

    /// @notice The registry that says which institutions are approved, and with which role.
    IdentityRegistry public immutable registry;

    /// @notice The next nonce each patient's signature must carry.
    mapping(address patient => uint64) public nonces;

    mapping(bytes32 grantId => GrantState) private _grants;

    /// @notice A patient granted access. `grantId` is the EIP-712 hash of the signed grant.
    /// @param grantId The grant's id.
    /// @param patient The patient's consent-key address.
    /// @param grantee The institution's address.
    /// @param access Access bits (read 1, write 2).
    /// @param sections Section bits (open 1, protected 2).
    /// @param metrics Metric bits over the catalog; zero means every metric of the sections.
    /// @param purpose Hash of the purpose text.
    /// @param expiresAt Expiry (Unix seconds).
    event Granted(
        bytes32 indexed grantId,
        address indexed patient,
        address indexed grantee,
        uint8 access,
        uint8 sections,
        uint64 metrics,
        bytes32 purpose,
        uint64 expiresAt
    );

    /// @notice A patient revoked a grant.
    /// @param grantId The grant's id.
    /// @param patient The patient's consent-key address.
    event Revoked(bytes32 indexed grantId, address indexed patient);

    /// @notice The signature is malformed, not canonical, or not the patient's.
    error BadSignature();
    /// @notice The signature's nonce is not the patient's next one (a replay, or out of order).
    /// @param expected The nonce the patient's next signature must carry.
    error BadNonce(uint64 expected);
    /// @notice The grant has already expired, or grants nothing.
    error BadGrant();
    /// @notice The grantee is not an approved institution of the registry.
    /// @param grantee The address that was to be granted.
    error GranteeNotApproved(address grantee);
    /// @notice The grant asks for more than the grantee's role may ever have.
    error BeyondRole();
    /// @notice No such grant, or it belongs to another patient.
    /// @param grantId The grant that was looked up.
    error UnknownGrant(bytes32 grantId);
    /// @notice The grant was revoked already.
    /// @param grantId The grant.
    error AlreadyRevoked(bytes32 grantId);
    /// @notice The same grant was submitted twice.
    /// @param grantId The grant.
    error AlreadyGranted(bytes32 grantId);
    /// @notice An address argument was the zero address.
    error ZeroAddress();

    /// @notice Creates the consent contract over `registry_`.
    /// @param registry_ The identity registry.
    constructor(IdentityRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @notice The EIP-712 domain separator (name "Vitalis Consent", version "1").
    /// @return The separator for this chain and contract.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Vitalis Consent"), keccak256("1"), block.chainid, address(this))
        );
    }

    /// @notice The id of a grant: the EIP-712 digest the patient signs.
    /// @param g The grant.
    /// @return The digest.
    function grantDigest(Grant calldata g) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH, g.patient, g.grantee, g.access, g.sections, g.metrics, g.purpose, g.expiresAt, g.nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// @notice The EIP-712 digest of a revocation.
    /// @param patient The patient's consent-key address.
    /// @param grantId The grant to revoke.
    /// @param nonce The patient's next nonce.
    /// @return The digest.
    function revokeDigest(address patient, bytes32 grantId, uint64 nonce) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantId, nonce));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// @notice Records a grant signed by its patient. Anyone may submit it.
    /// @param g The grant.
    /// @param signature The patient's 65-byte signature (r, s, v) of `grantDigest(g)`.
    /// @return grantId The grant's id.
    function grant(Grant calldata g, bytes calldata signature) external returns (bytes32 grantId) {
        if (g.patient == address(0) || g.grantee == address(0)) revert ZeroAddress();
        if (g.access == 0 || g.access > 3 || g.sections == 0 || g.sections > 3) revert BadGrant();
        if (g.expiresAt <= block.timestamp) revert BadGrant();
        _checkRole(g.grantee, g.access, g.sections);
        grantId = grantDigest(g);
        if (_recover(grantId, signature) != g.patient) revert BadSignature();
        _useNonce(g.patient, g.nonce);
        if (_grants[grantId].patient != address(0)) revert AlreadyGranted(grantId);
        _grants[grantId] = GrantState({
            patient: g.patient,
            access: g.access,
            sections: g.sections,
            expiresAt: g.expiresAt,
            revoked: false,
            grantee: g.grantee,
            metrics: g.metrics
        });
        emit Granted(grantId, g.patient, g.grantee, g.access, g.sections, g.metrics, g.purpose, g.expiresAt);
    }

    /// @notice Revokes a grant, with the patient's signature. Anyone may submit it.
    /// @param patient The patient's consent-key address.
    /// @param grantId The grant.
    /// @param nonce The patient's next nonce.
    /// @param signature The patient's signature of `revokeDigest(patient, grantId, nonce)`.
    function revoke(address patient, bytes32 grantId, uint64 nonce, bytes calldata signature) external {
        GrantState storage entry = _grants[grantId];
        if (entry.patient == address(0) || entry.patient != patient) revert UnknownGrant(grantId);
        if (entry.revoked) revert AlreadyRevoked(grantId);
        if (_recover(revokeDigest(patient, grantId, nonce), signature) != patient) revert BadSignature();
        _useNonce(patient, nonce);
        entry.revoked = true;
        emit Revoked(grantId, patient);
    }

    /// @notice Whether a grant exists, is not revoked, has not expired, and its grantee is
    /// still an approved institution.
    /// @param grantId The grant.
    /// @return True while the grant gives access.
    function isActive(bytes32 grantId) public view returns (bool) {
        GrantState storage entry = _grants[grantId];
        if (entry.patient == address(0) || entry.revoked || entry.expiresAt <= block.timestamp) return false;
        (,, IdentityRegistry.Status status) = registry.institution(entry.grantee);
        return status == IdentityRegistry.Status.Approved;
    }

    /// @notice A grant as recorded (all zero if unknown); `isActive` says whether it gives
    /// access now.
    /// @param grantId The grant.
    /// @return The recorded grant.
    function grantOf(bytes32 grantId) external view returns (GrantState memory) {
        return _grants[grantId];
    }

    /// @dev The consent part of the permission matrix that holds whatever a server asks:
    /// only approved institutions; only hospitals write; enterprise/government reads the
    /// open section only.
    function _checkRole(address grantee, uint8 access, uint8 sections) private view {
        (, IdentityRegistry.Role role, IdentityRegistry.Status status) = registry.institution(grantee);
        if (status != IdentityRegistry.Status.Approved) revert GranteeNotApproved(grantee);
        if (access & ACCESS_WRITE != 0 && role != IdentityRegistry.Role.Hospital) revert BeyondRole();
        if (sections & SECTION_PROTECTED != 0 && role == IdentityRegistry.Role.EnterpriseGovernment) {
            revert BeyondRole();
        }
    }

    /// @dev Consumes `nonce` if it is the patient's next one.
    function _useNonce(address patient, uint64 nonce) private {
        uint64 expected = nonces[patient];
        if (nonce != expected) revert BadNonce(expected);
        nonces[patient] = expected + 1;
    }

    /// @dev The signer of `digest`, or zero when the signature is malformed or not canonical.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) revert BadSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if ((v != 27 && v != 28) || uint256(s) > HALF_ORDER) revert BadSignature();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert BadSignature();
        return signer;
    }
}
