//! Fuzz target: the policy parser must end every input with a policy or a `ParseError`,
//! never a panic, and a policy it accepts must come back unchanged from its canonical
//! text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_abe::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::parse(text) {
        let canonical = policy.to_string();
        assert_eq!(Policy::parse(&canonical).as_ref(), Ok(&policy));
    }
});
