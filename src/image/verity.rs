pub fn verity_placeholder() {}
