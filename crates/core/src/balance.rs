//! Balancing a scale-up over similar node groups (upstream's `--balance-similar-node-groups`):
//! the new nodes one group was chosen for are spread over the groups that could run the same
//! pods (in Tidal: the same pool in other zones), so a pool grows evenly across its zones instead
//! of piling every new node into one.
//!
//! Pure: the caller decides which groups are similar (only groups that can run every pod of the
//! scale-up, so pods bound to a zone by a volume or a selector never qualify others) and passes
//! their sizes and room.

/// One group taking part in a balanced scale-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupRoom {
    /// Its size now (desired capacity, as planned so far).
    pub size: u32,
    /// How many nodes it may still add.
    pub room: u32,
}

/// How many of `new_nodes` each group gets: one at a time to the smallest group (size plus what
/// it got so far) that has room, ties to the earliest in `groups`. The result has one entry per
/// group and sums to `new_nodes`, or to all the room there is if that is less.
pub fn spread_new_nodes(groups: &[GroupRoom], new_nodes: u32) -> Vec<u32> {
    let mut added = vec![0u32; groups.len()];
    for _ in 0..new_nodes {
        let next = groups
            .iter()
            .zip(&added)
            .enumerate()
            .filter(|(_, (g, a))| **a < g.room)
            .min_by_key(|(i, (g, a))| (u64::from(g.size) + u64::from(**a), *i))
            .map(|(i, _)| i);
        match next {
            Some(i) => added[i] += 1,
            None => break,
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(size: u32, room: u32) -> GroupRoom {
        GroupRoom { size, room }
    }

    #[test]
    fn new_nodes_even_out_the_groups() {
        // A noon scale-up of 25 nodes over three zones that start at 4, 2 and 3 nodes.
        let split = spread_new_nodes(&[room(4, 100), room(2, 100), room(3, 100)], 25);
        assert_eq!(split, [8, 9, 8], "sizes after: 12, 11, 11");
    }

    #[test]
    fn a_full_group_gets_nothing_and_the_rest_take_its_share() {
        assert_eq!(
            spread_new_nodes(&[room(0, 1), room(0, 10), room(0, 10)], 9),
            [1, 4, 4]
        );
    }

    #[test]
    fn ties_go_to_the_first_group_and_room_bounds_the_total() {
        assert_eq!(spread_new_nodes(&[room(1, 5), room(1, 5)], 1), [1, 0]);
        assert_eq!(spread_new_nodes(&[room(0, 2), room(0, 1)], 10), [2, 1]);
        assert_eq!(spread_new_nodes(&[], 3), Vec::<u32>::new());
    }
}
