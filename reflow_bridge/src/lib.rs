//! Distribution for reflow (see the NetworkBridge issue): empty for now.
