//! Runs the C tests of `ffi/ctest/c/` (compiled by `build.rs` against
//! `include/p2pchat.h`), one `#[test]` per C function. A C test returns 0 on
//! success and prints what failed to stderr otherwise.

use std::ffi::c_int;
use std::sync::Mutex;

use p2pchat_ctest as _;

/// The C tests run one at a time: some redirect the process's stdout to check
/// what the library prints, which would catch other tests' output (and theirs).
static SERIAL: Mutex<()> = Mutex::new(());

macro_rules! c_tests {
    ($($name:ident),* $(,)?) => {
        mod c {
            use super::c_int;
            unsafe extern "C" {
                $(pub fn $name() -> c_int;)*
            }
        }
        $(
            #[test]
            fn $name() {
                let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
                // SAFETY: a C test function of c/*.c, taking nothing and returning an int.
                let failed = unsafe { c::$name() };
                assert_eq!(failed, 0, concat!(stringify!($name), " failed; see its message above"));
            }
        )*
    };
}

c_tests!(
    ctest_null_arguments,
    ctest_free_null_is_a_no_op,
    ctest_status_texts,
    ctest_config_checks_its_arguments,
    ctest_config_from_args_bad_name_is_usage,
    ctest_config_from_args_help_and_version_print,
    ctest_config_from_args_parses_options,
    ctest_config_trust_setters,
    ctest_config_from_args_trust_options,
    ctest_two_nodes_exchange_messages,
    ctest_double_stop_and_stop_then_free,
    ctest_quit_command_stops_the_node_and_wait_returns,
    ctest_port_in_use_is_an_io_error,
    ctest_no_callback_after_free,
    ctest_free_from_inside_the_callback_does_not_deadlock,
);
