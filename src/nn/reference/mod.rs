//! Plain reference implementations, one per layer, that the fast layers are tested against:
//! each is its layer's equations written as nested loops, slow and easy to check by eye.

pub mod conv2d;
