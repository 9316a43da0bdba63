//! One suite, every adapter: each case below is a runtime-neutral function generic over
//! [`harness::AdapterUnderTest`], instantiated once per adapter by [`suite_for!`]. Servers
//! run on the adapter's runtime in their own OS thread; the test bodies drive real peers as
//! subprocesses (smtplib, swaks, smtp-source, smtp-sink, aiosmtpd), lettre on its own
//! runtime, or a std-net client for raw bytes, every wait with a deadline.
//!
//! A missing peer skips its case on a developer's machine and fails it in CI
//! (`SMTP_INTEROP_REQUIRED=1`, set by `.ci/run`).
//!
//! Adapters: smtp-tokio always; smtp-async-std on async-std and on smol with the tests
//! crate's features of those names (both on by default). Adding an adapter: one
//! `adapter_under_test!` line and one `suite_for!` line.

// The cases are `pub` for the per-adapter modules; this is a test binary, not a library.
#![allow(unreachable_pub)]

mod client_peers;
mod client_wire;
mod common;
mod harness;
mod reference;
mod server_peers;
mod server_wire;
#[path = "../interop_client_support/mod.rs"]
mod support;
mod wire;

harness::adapter_under_test!(Tokio, "smtp-tokio", smtp_tokio, harness::tokio_block_on);

#[cfg(feature = "async-std")]
mod async_std_api {
    crate::harness::driver_api!(smtp_async_std::AsyncStd);
}
#[cfg(feature = "async-std")]
harness::adapter_under_test!(
    AsyncStd,
    "smtp-async-std",
    async_std_api,
    ::async_std::task::block_on
);

#[cfg(feature = "smol")]
mod smol_api {
    crate::harness::driver_api!(smtp_async_std::Smol);
}
#[cfg(feature = "smol")]
harness::adapter_under_test!(Smol, "smtp-async-std", smol_api, ::smol::block_on);

/// Every case of the suite, as `#[test]` functions in a module named after the adapter.
macro_rules! suite_for {
    ($module:ident, $adapter:ty) => {
        mod $module {
            suite_for!(@cases $adapter;
                server_peers::smtplib_plain,
                server_peers::smtplib_starttls,
                server_peers::smtplib_smtputf8_over_starttls,
                server_peers::smtplib_starttls_auth_plain,
                server_peers::smtplib_starttls_auth_login,
                server_peers::smtplib_plaintext_auth_plain,
                server_peers::smtplib_implicit_tls,
                server_peers::smtplib_wrong_password_gets_535,
                server_peers::swaks_starttls_auth_plain_pipelined,
                server_peers::swaks_starttls_auth_login,
                server_peers::swaks_pipelined_several_recipients,
                server_peers::smtp_source_sequential_and_parallel,
                server_peers::smtp_source_thousand_sessions,
                server_peers::lettre_starttls,
                server_peers::lettre_starttls_auth_plain,
                server_peers::lettre_implicit_tls_auth_login,
                server_wire::thousand_concurrent_connections_each_deliver_one_message,
                server_wire::over_the_connection_limit_a_client_gets_421,
                server_wire::starttls_pipelined_command_is_discarded,
                server_wire::auth_plain_and_login_succeed_or_get_535,
                server_wire::authentication_before_starttls_does_not_count_after_it,
                server_wire::idle_client_times_out_with_421,
                server_wire::stalled_data_times_out_with_421,
                server_wire::graceful_shutdown_finishes_an_in_flight_message,
                server_wire::connection_broken_mid_data_stores_nothing,
                server_wire::bdat_chunks_are_stored_exactly,
                server_wire::a_stalled_handler_stops_the_server_reading,
                server_wire::megabyte_line_gets_500_5_5_6,
                server_wire::smuggled_end_of_data_is_refused,
                server_wire::ten_thousand_recipients_are_capped,
                server_wire::ten_thousand_pipelined_commands_are_answered,
                server_wire::repeated_errors_close_the_session,
                server_wire::size_parameter_near_u64_max_is_refused,
                server_wire::bdat_chunk_of_two_to_the_63_is_data_until_the_timeout,
                server_wire::bdat_size_beyond_u64_is_a_syntax_error,
                server_wire::megabyte_auth_responses_get_500_5_5_6,
                server_wire::starttls_injection_with_close_policy_closes,
                client_peers::sink_several_messages_on_one_connection_arrive_byte_exact,
                client_peers::sink_without_pipelining_still_delivers,
                client_peers::sink_lmtp_reports_one_final_reply_per_recipient,
                client_peers::sink_refused_mail_is_a_transient_failure_not_an_error,
                client_peers::aiosmtpd_messages_arrive_byte_exact_with_their_envelopes,
                client_peers::aiosmtpd_streamed_body_arrives_byte_exact,
                client_peers::aiosmtpd_auth_then_delivery,
                client_peers::aiosmtpd_wrong_password_ends_the_session_with_535,
                client_peers::aiosmtpd_starttls_with_a_pinned_certificate_then_auth,
                client_peers::aiosmtpd_starttls_refuses_a_certificate_not_trusted,
                client_peers::aiosmtpd_accept_any_certificate_is_an_opt_in_that_works,
                client_peers::aiosmtpd_required_tls_without_starttls_sends_nothing,
                client_peers::aiosmtpd_lmtp_delivery_reports_each_recipient,
                client_wire::client_implicit_tls_delivers_over_tls_from_the_first_byte,
                client_wire::client_starttls_upgrades_the_same_connection,
                client_wire::client_refuses_replies_injected_after_starttls,
                client_wire::client_times_out_on_a_silent_server,
                client_wire::client_sees_a_server_that_closes_mid_session_as_an_error,
                client_wire::client_sends_recipients_over_rcptmax_in_further_transactions,
                client_wire::client_ends_a_streamed_send_on_a_refused_data,
                client_wire::client_writes_each_flight_in_one_write,
                client_wire::client_and_server_against_smtp_tokio,
                #[ignore = "measurement: run by hand with --ignored --nocapture"]
                client_peers::sink_throughput_1kib_messages_one_connection,
            );
        }
    };
    (@cases $adapter:ty; $($(#[$attr:meta])* $group:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            $(#[$attr])*
            fn $case() {
                crate::$group::$case::<$adapter>();
            }
        )*
    };
}

suite_for!(tokio, crate::Tokio);
#[cfg(feature = "async-std")]
suite_for!(async_std, crate::AsyncStd);
#[cfg(feature = "smol")]
suite_for!(smol, crate::Smol);
