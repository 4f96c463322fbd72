//! The recycling allocator (installed here as this test binary's global allocator) hands a
//! freed large block back for the next request of the same size, zeroes it when asked, keeps
//! contents through `realloc`, and stays correct when many threads allocate at once.

use lumbar_cnn::recycling_allocator::{MAX_CACHED_BYTES, MIN_RECYCLED_BYTES};
use lumbar_cnn::RecyclingAllocator;
use rayon::prelude::*;

#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

/// The tests share one cache: one at a time, so none evicts a block another is watching.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A size no other test in this binary uses, so the tests cannot take each other's blocks.
fn unusual_size(offset: usize) -> usize {
    MIN_RECYCLED_BYTES / 4 + 1_237 * offset
}

#[test]
fn a_freed_large_block_is_reused_for_the_same_size() {
    let _serial = serial();
    let len = unusual_size(1);
    let first = vec![7.0f32; len];
    let address = first.as_ptr() as usize;
    drop(first);
    let second = vec![1.0f32; len];
    assert_eq!(
        second.as_ptr() as usize,
        address,
        "the block was not recycled"
    );
    assert!(second.iter().all(|&v| v == 1.0));
}

#[test]
fn a_recycled_block_asked_for_zeroed_is_zero() {
    let _serial = serial();
    let len = unusual_size(2);
    let dirty = vec![3.5f32; len];
    let address = dirty.as_ptr() as usize;
    drop(dirty);
    // `vec![0.0; n]` asks the allocator for zeroed memory.
    let zeroed = vec![0.0f32; len];
    assert_eq!(
        zeroed.as_ptr() as usize,
        address,
        "the block was not recycled"
    );
    assert!(
        zeroed.iter().all(|&v| v == 0.0),
        "a recycled block kept old values"
    );
}

#[test]
fn realloc_keeps_the_contents_across_the_threshold() {
    let _serial = serial();
    let mut values: Vec<u32> = (0..1000).collect();
    values.reserve_exact(MIN_RECYCLED_BYTES); // small → large
    values.extend(1000..(MIN_RECYCLED_BYTES as u32 / 2));
    values.shrink_to_fit(); // large → large
    values.truncate(10);
    values.shrink_to_fit(); // large → small
    assert_eq!(values, (0..10).collect::<Vec<u32>>());
}

#[test]
fn a_block_larger_than_the_cache_goes_back_to_the_system() {
    let _serial = serial();
    let big = vec![1u8; MAX_CACHED_BYTES + 1];
    assert_eq!(big[MAX_CACHED_BYTES], 1);
    drop(big); // must not be cached (it could not fit): nothing to observe but no crash
    let small_again = vec![2u8; MIN_RECYCLED_BYTES];
    assert!(small_again.iter().all(|&v| v == 2));
}

#[test]
fn many_threads_allocating_large_blocks_see_only_their_own_data() {
    let _serial = serial();
    (0..64u32).into_par_iter().for_each(|task| {
        for round in 0..8u32 {
            let len = MIN_RECYCLED_BYTES / 4 * (1 + (task as usize + round as usize) % 3);
            let mark = task * 100 + round;
            let block = vec![mark; len];
            assert!(
                block.iter().all(|&v| v == mark),
                "another thread wrote here"
            );
        }
    });
}

#[test]
fn recycling_can_be_turned_off_and_on_again() {
    use lumbar_cnn::recycling_allocator::{cached_bytes, set_recycling};
    let _serial = serial();
    let len = unusual_size(9);
    drop(vec![1.0f32; len]);
    assert!(cached_bytes() >= 4 * len, "the freed block is cached");
    set_recycling(false);
    assert_eq!(cached_bytes(), 0, "turning recycling off returns the cache");
    drop(vec![2.0f32; len]);
    assert_eq!(cached_bytes(), 0, "nothing is cached while it is off");
    set_recycling(true);
    let first = vec![3.0f32; len];
    let address = first.as_ptr() as usize;
    drop(first);
    let second = vec![4.0f32; len];
    assert_eq!(second.as_ptr() as usize, address, "recycled again once on");
}
