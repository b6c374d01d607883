#ifndef PORTEN_CSPAWN_H
#define PORTEN_CSPAWN_H

#include <spawn.h>

/// Adds "close every descriptor from `from` up" to `actions` (glibc's
/// posix_spawn_file_actions_addclosefrom_np, which Swift cannot see without _GNU_SOURCE).
/// Returns 0, or an errno value (ENOSYS where the C library lacks it).
int porten_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
