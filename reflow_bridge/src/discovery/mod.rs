//! Discovery: a small HTTP registry where instances announce their network, address and
//! actors, and where peers look them up.
//!
//! [`DiscoveryServer::serve`] runs the registry (`reflow discovery --bind ADDR`). Its state is in
//! memory only: a restarted registry starts empty and is refilled by the next renewals,
//! which every instance sends well within its TTL anyway. The JSON types of its API
//! ([`InstanceRecord`], [`InstanceList`], ...) are public so that clients share them.

mod registry;

pub(crate) use registry::check_instance_id;
pub use registry::{
    ActorRecord, DiscoveryServer, InstanceList, InstanceRecord, ListedInstance, RegistryConfig,
    RunningRegistry,
};
