/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The io.vfbroker.Broker Varlink interface, as sd-varlink serves it (and
 * validates calls against it). proto/io.vfbroker.Broker.varlink is the
 * same text; a test formats this one and compares (tests/unit/test-varlink). */

/* sd-varlink-idl.h's macros initialize flexible array members and end
 * their lists with {}: GNU C, which -Wpedantic reports. */
#pragma GCC diagnostic ignored "-Wpedantic"

#include "varlink-interface.h"

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                PhysicalFunction,
                SD_VARLINK_FIELD_COMMENT("PCI address, as 0000:01:00.0"),
                SD_VARLINK_DEFINE_FIELD(address, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(interface, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(driver, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("pool or dedicated"),
                SD_VARLINK_DEFINE_FIELD(mode, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The tenant of a dedicated PF, else empty"),
                SD_VARLINK_DEFINE_FIELD(tenant, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(state, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Why the PF is broken, else empty"),
                SD_VARLINK_DEFINE_FIELD(reason, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(numVFs, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_FIELD(totalVFs, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_FIELD(freeVFs, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("per-vf-token, revocation: what the PF's driver offers"),
                SD_VARLINK_DEFINE_FIELD(features, SD_VARLINK_STRING, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("The values AcquireVF's api takes for this PF"),
                SD_VARLINK_DEFINE_FIELD(apis, SD_VARLINK_STRING, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("Why iommufd is not among them, else empty"),
                SD_VARLINK_DEFINE_FIELD(iommufdUnavailableReason, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                VirtualFunction,
                SD_VARLINK_DEFINE_FIELD(address, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(physicalFunction, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(index, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_FIELD(iommuGroup, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("-1 where the machine has no NUMA"),
                SD_VARLINK_DEFINE_FIELD(numaNode, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("free, leased, draining, broken or revoking"),
                SD_VARLINK_DEFINE_FIELD(state, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The active lease's id, else empty"),
                SD_VARLINK_DEFINE_FIELD(lease, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(tenant, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                Lease,
                SD_VARLINK_DEFINE_FIELD(id, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(virtualFunction, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(physicalFunction, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(tenant, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The holder: the process that acquired the VF"),
                SD_VARLINK_DEFINE_FIELD(uid, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_FIELD(pid, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("CLOCK_REALTIME, microseconds"),
                SD_VARLINK_DEFINE_FIELD(created, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("active, revoking, or ended (the VF still draining)"),
                SD_VARLINK_DEFINE_FIELD(state, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                Tenant,
                SD_VARLINK_DEFINE_FIELD(name, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_FIELD(quota, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_FIELD(leases, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("Defined in vfbroker.conf, not by CreateTenant"),
                SD_VARLINK_DEFINE_FIELD(fromConfig, SD_VARLINK_BOOL, 0),
                SD_VARLINK_DEFINE_FIELD(uids, SD_VARLINK_INT, SD_VARLINK_ARRAY),
                SD_VARLINK_DEFINE_FIELD(gids, SD_VARLINK_INT, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                GetStatus,
                SD_VARLINK_DEFINE_OUTPUT(version, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Ready PFs, their VFs, active leases"),
                SD_VARLINK_DEFINE_OUTPUT(physicalFunctions, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_OUTPUT(virtualFunctions, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_OUTPUT(leases, SD_VARLINK_INT, 0));

static SD_VARLINK_DEFINE_METHOD(
                ListPhysicalFunctions,
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(physicalFunctions, PhysicalFunction, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                ListVirtualFunctions,
                SD_VARLINK_FIELD_COMMENT("Filters, all optional: only VFs of this PF, in this state, leased to this tenant"),
                SD_VARLINK_DEFINE_INPUT(physicalFunction, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_DEFINE_INPUT(state, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_DEFINE_INPUT(tenant, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(virtualFunctions, VirtualFunction, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                ListLeases,
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(leases, Lease, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                ListTenants,
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(tenants, Tenant, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                AcquireVF,
                SD_VARLINK_FIELD_COMMENT("The tenant the caller acts for (a member of it; polkit org.vfbroker.acquire-vf)"),
                SD_VARLINK_DEFINE_INPUT(tenant, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_INPUT(physicalFunction, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_DEFINE_INPUT(numaNode, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("group (the default: container, group, device) or iommufd (/dev/iommu, the VF's unbound cdev)"),
                SD_VARLINK_DEFINE_INPUT(api, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_DEFINE_OUTPUT(lease, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_OUTPUT(address, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_OUTPUT(iommuGroup, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("Indexes into the fds passed with the reply: the VFIO container (api iommufd: /dev/iommu), "
                                         "the group (api iommufd: the same /dev/iommu), the device (api iommufd: the cdev)"),
                SD_VARLINK_DEFINE_OUTPUT(containerFileDescriptor, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_OUTPUT(groupFileDescriptor, SD_VARLINK_INT, 0),
                SD_VARLINK_DEFINE_OUTPUT(deviceFileDescriptor, SD_VARLINK_INT, 0));

static SD_VARLINK_DEFINE_METHOD(
                ReleaseVF,
                SD_VARLINK_DEFINE_INPUT(lease, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                RevokeLease,
                SD_VARLINK_DEFINE_INPUT(lease, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                CreateTenant,
                SD_VARLINK_DEFINE_INPUT(name, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_INPUT(uids, SD_VARLINK_INT, SD_VARLINK_ARRAY | SD_VARLINK_NULLABLE),
                SD_VARLINK_DEFINE_INPUT(gids, SD_VARLINK_INT, SD_VARLINK_ARRAY | SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Default: DefaultQuota= of vfbroker.conf"),
                SD_VARLINK_DEFINE_INPUT(quota, SD_VARLINK_INT, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_METHOD(
                DeleteTenant,
                SD_VARLINK_DEFINE_INPUT(name, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Revoke the tenant's leases first"),
                SD_VARLINK_DEFINE_INPUT(force, SD_VARLINK_BOOL, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_METHOD(
                RotateToken,
                SD_VARLINK_DEFINE_INPUT(name, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                GetTenantToken,
                SD_VARLINK_DEFINE_INPUT(name, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_OUTPUT(token, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                SetNumVFs,
                SD_VARLINK_DEFINE_INPUT(physicalFunction, SD_VARLINK_STRING, 0),
                SD_VARLINK_DEFINE_INPUT(count, SD_VARLINK_INT, 0));

/* The errors of the D-Bus API, org.vfbroker.Error.X as io.vfbroker.Broker.X. */
#define DEFINE_BROKER_ERROR(name)                                                        \
        static SD_VARLINK_DEFINE_ERROR(name, SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0))
DEFINE_BROKER_ERROR(NotAuthorized);
DEFINE_BROKER_ERROR(UnknownTenant);
DEFINE_BROKER_ERROR(UnknownPhysicalFunction);
DEFINE_BROKER_ERROR(UnknownLease);
DEFINE_BROKER_ERROR(NoFreeVF);
DEFINE_BROKER_ERROR(QuotaExceeded);
DEFINE_BROKER_ERROR(InvalidArgument);
DEFINE_BROKER_ERROR(Busy);
DEFINE_BROKER_ERROR(Exists);
DEFINE_BROKER_ERROR(NotSupported);
DEFINE_BROKER_ERROR(LimitExceeded);
DEFINE_BROKER_ERROR(Failed);

SD_VARLINK_DEFINE_INTERFACE(
                io_vfbroker_Broker,
                VARLINK_INTERFACE_NAME,
                SD_VARLINK_INTERFACE_COMMENT("vfbroker: SR-IOV Virtual Functions for unprivileged programs, through VFIO. "
                                             "The operations, errors and authorization of org.vfbroker.Broker1 on D-Bus."),
                SD_VARLINK_SYMBOL_COMMENT("A Physical Function the broker owns"),
                &vl_type_PhysicalFunction,
                SD_VARLINK_SYMBOL_COMMENT("A Virtual Function of one of them"),
                &vl_type_VirtualFunction,
                &vl_type_Lease,
                &vl_type_Tenant,
                SD_VARLINK_SYMBOL_COMMENT("Counts, as the D-Bus properties"),
                &vl_method_GetStatus,
                &vl_method_ListPhysicalFunctions,
                &vl_method_ListVirtualFunctions,
                &vl_method_ListLeases,
                &vl_method_ListTenants,
                SD_VARLINK_SYMBOL_COMMENT("Leases a free VF of the tenant's and passes its fds with the reply"),
                &vl_method_AcquireVF,
                SD_VARLINK_SYMBOL_COMMENT("Ends a lease: its holder's uid, or org.vfbroker.manage"),
                &vl_method_ReleaseVF,
                SD_VARLINK_SYMBOL_COMMENT("Takes a VF back by force (variant driver), or ends the lease and reports NotSupported"),
                &vl_method_RevokeLease,
                &vl_method_CreateTenant,
                &vl_method_DeleteTenant,
                &vl_method_RotateToken,
                SD_VARLINK_SYMBOL_COMMENT("The token of a tenant that has a dedicated PF"),
                &vl_method_GetTenantToken,
                SD_VARLINK_SYMBOL_COMMENT("Changes sriov_numvfs of a PF whose VFs are all free"),
                &vl_method_SetNumVFs,
                &vl_error_NotAuthorized,
                &vl_error_UnknownTenant,
                &vl_error_UnknownPhysicalFunction,
                &vl_error_UnknownLease,
                &vl_error_NoFreeVF,
                &vl_error_QuotaExceeded,
                &vl_error_InvalidArgument,
                &vl_error_Busy,
                &vl_error_Exists,
                &vl_error_NotSupported,
                &vl_error_LimitExceeded,
                &vl_error_Failed);
