//! Rust bindings of the Vitalis contracts, generated from the committed artifacts in
//! `contracts/artifacts/` (ABI and bytecode compiled by the pinned `solc`; see
//! `contracts/README.md`). The same bytecode is deployed by the embedded chain's genesis
//! and on external nodes.

#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    IdentityRegistry,
    "../../contracts/artifacts/IdentityRegistry.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Anchors,
    "../../contracts/artifacts/Anchors.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    RowStore,
    "../../contracts/artifacts/RowStore.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Consent,
    "../../contracts/artifacts/Consent.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    AccessLog,
    "../../contracts/artifacts/AccessLog.json"
);
