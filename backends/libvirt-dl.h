/* libvirt and libxml2 are not linked: they are loaded with dlopen the first
 * time a run or the daemon needs a libvirt kind, so a host of kernel kinds only
 * never maps them (12 MB of a small no-op run's 16 MB RSS, with GnuTLS and all).
 * Each function used is called through a pointer that libvirt_dl_load()
 * resolves; the macros below let the callers' text keep the libraries' names. */
#pragma once

#include <stdbool.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>

#define LIBVIRT_DL_SYMBOLS(X)                      \
        X(virConnectClose)                         \
        X(virConnectDomainEventDeregisterAny)      \
        X(virConnectDomainEventRegisterAny)        \
        X(virConnectGetCapabilities)               \
        X(virConnectGetDomainCapabilities)         \
        X(virConnectListAllDomains)                \
        X(virConnectListAllNetworks)               \
        X(virConnectListAllStoragePools)           \
        X(virConnectNetworkEventDeregisterAny)     \
        X(virConnectNetworkEventRegisterAny)       \
        X(virConnectOpen)                          \
        X(virConnectStoragePoolEventDeregisterAny) \
        X(virConnectStoragePoolEventRegisterAny)   \
        X(virDomainAttachDeviceFlags)              \
        X(virDomainBlockResize)                    \
        X(virDomainCreate)                         \
        X(virDomainDefineXML)                      \
        X(virDomainDestroy)                        \
        X(virDomainDetachDeviceFlags)              \
        X(virDomainFree)                           \
        X(virDomainGetAutostart)                   \
        X(virDomainGetConnect)                     \
        X(virDomainGetID)                          \
        X(virDomainGetName)                        \
        X(virDomainGetState)                       \
        X(virDomainGetXMLDesc)                     \
        X(virDomainIsActive)                       \
        X(virDomainLookupByName)                   \
        X(virDomainPinEmulator)                    \
        X(virDomainPinVcpuFlags)                   \
        X(virDomainSetAutostart)                   \
        X(virDomainSetBlockIoTune)                 \
        X(virDomainSetMemoryFlags)                 \
        X(virDomainSetMetadata)                    \
        X(virDomainSetVcpusFlags)                  \
        X(virDomainShutdown)                       \
        X(virDomainShutdownFlags)                  \
        X(virDomainUndefine)                       \
        X(virDomainUndefineFlags)                  \
        X(virDomainUpdateDeviceFlags)              \
        X(virEventRegisterDefaultImpl)             \
        X(virEventRunDefaultImpl)                  \
        X(virGetLastErrorCode)                     \
        X(virGetLastErrorMessage)                  \
        X(virNetworkCreate)                        \
        X(virNetworkDefineXML)                     \
        X(virNetworkDestroy)                       \
        X(virNetworkFree)                          \
        X(virNetworkGetAutostart)                  \
        X(virNetworkGetBridgeName)                 \
        X(virNetworkGetName)                       \
        X(virNetworkGetUUIDString)                 \
        X(virNetworkGetXMLDesc)                    \
        X(virNetworkIsActive)                      \
        X(virNetworkIsPersistent)                  \
        X(virNetworkLookupByName)                  \
        X(virNetworkSetAutostart)                  \
        X(virNetworkUndefine)                      \
        X(virNetworkUpdate)                        \
        X(virSetErrorFunc)                         \
        X(virStoragePoolBuild)                     \
        X(virStoragePoolCreate)                    \
        X(virStoragePoolDefineXML)                 \
        X(virStoragePoolDelete)                    \
        X(virStoragePoolDestroy)                   \
        X(virStoragePoolFree)                      \
        X(virStoragePoolGetAutostart)              \
        X(virStoragePoolGetName)                   \
        X(virStoragePoolGetXMLDesc)                \
        X(virStoragePoolIsActive)                  \
        X(virStoragePoolIsPersistent)              \
        X(virStoragePoolListAllVolumes)            \
        X(virStoragePoolLookupByName)              \
        X(virStoragePoolRefresh)                   \
        X(virStoragePoolSetAutostart)              \
        X(virStoragePoolUndefine)                  \
        X(virStorageVolCreateXML)                  \
        X(virStorageVolCreateXMLFrom)              \
        X(virStorageVolDelete)                     \
        X(virStorageVolFree)                       \
        X(virStorageVolGetInfo)                    \
        X(virStorageVolGetName)                    \
        X(virStorageVolGetPath)                    \
        X(virStorageVolGetXMLDesc)                 \
        X(virStorageVolLookupByName)               \
        X(virStorageVolLookupByPath)               \
        X(virStorageVolResize)                     \
        X(virStorageVolUpload)                     \
        X(virStreamAbort)                          \
        X(virStreamFinish)                         \
        X(virStreamFree)                           \
        X(virStreamNew)                            \
        X(virStreamSend)                           \
        X(virTypedParamsAddULLong)                 \
        X(virTypedParamsFree)

/* xmlFree is a variable (a pointer to the allocator's free), not a function:
 * its address is resolved all the same, and (*dl_xmlFree)(p) calls it. */
#define LIBXML_DL_SYMBOLS(X)           \
        X(xmlAddChild)                 \
        X(xmlBufferContent)            \
        X(xmlBufferCreate)             \
        X(xmlBufferFree)               \
        X(xmlDocCopyNode)              \
        X(xmlDocDumpMemory)            \
        X(xmlDocGetRootElement)        \
        X(xmlFree)                     \
        X(xmlFreeDoc)                  \
        X(xmlFreeNode)                 \
        X(xmlFreeTextWriter)           \
        X(xmlNewTextWriterMemory)      \
        X(xmlReadMemory)               \
        X(xmlReplaceNode)              \
        X(xmlStrEqual)                 \
        X(xmlTextWriterEndDocument)    \
        X(xmlTextWriterEndElement)     \
        X(xmlTextWriterSetIndent)      \
        X(xmlTextWriterStartElement)   \
        X(xmlTextWriterWriteAttribute) \
        X(xmlTextWriterWriteElement)   \
        X(xmlTextWriterWriteRaw)       \
        X(xmlTextWriterWriteString)    \
        X(xmlUnlinkNode)               \
        X(xmlXPathEvalExpression)      \
        X(xmlXPathFreeContext)         \
        X(xmlXPathFreeObject)          \
        X(xmlXPathNewContext)

#define DL_DECLARE(sym) extern __typeof__(sym) *dl_##sym;
LIBVIRT_DL_SYMBOLS(DL_DECLARE)
LIBXML_DL_SYMBOLS(DL_DECLARE)
#undef DL_DECLARE

/* Load libxml2, then libvirt, once: 0, or a negative errno after one error
 * ("libvirt is not installed (libvirt.so.0: ...)"), said again on each call. */
int libvirt_dl_load(void);
/* libxml2 alone (rendering XML needs no connection): the same. */
int libxml_dl_load(void);
/* Whether both are loaded, without trying. */
bool libvirt_dl_loaded(void);

#ifndef LIBVIRT_DL_NO_MACROS
#define virConnectClose (*dl_virConnectClose)
#define virConnectDomainEventDeregisterAny (*dl_virConnectDomainEventDeregisterAny)
#define virConnectDomainEventRegisterAny (*dl_virConnectDomainEventRegisterAny)
#define virConnectGetCapabilities (*dl_virConnectGetCapabilities)
#define virConnectGetDomainCapabilities (*dl_virConnectGetDomainCapabilities)
#define virConnectListAllDomains (*dl_virConnectListAllDomains)
#define virConnectListAllNetworks (*dl_virConnectListAllNetworks)
#define virConnectListAllStoragePools (*dl_virConnectListAllStoragePools)
#define virConnectNetworkEventDeregisterAny (*dl_virConnectNetworkEventDeregisterAny)
#define virConnectNetworkEventRegisterAny (*dl_virConnectNetworkEventRegisterAny)
#define virConnectOpen (*dl_virConnectOpen)
#define virConnectStoragePoolEventDeregisterAny (*dl_virConnectStoragePoolEventDeregisterAny)
#define virConnectStoragePoolEventRegisterAny (*dl_virConnectStoragePoolEventRegisterAny)
#define virDomainAttachDeviceFlags (*dl_virDomainAttachDeviceFlags)
#define virDomainBlockResize (*dl_virDomainBlockResize)
#define virDomainCreate (*dl_virDomainCreate)
#define virDomainDefineXML (*dl_virDomainDefineXML)
#define virDomainDestroy (*dl_virDomainDestroy)
#define virDomainDetachDeviceFlags (*dl_virDomainDetachDeviceFlags)
#define virDomainFree (*dl_virDomainFree)
#define virDomainGetAutostart (*dl_virDomainGetAutostart)
#define virDomainGetConnect (*dl_virDomainGetConnect)
#define virDomainGetID (*dl_virDomainGetID)
#define virDomainGetName (*dl_virDomainGetName)
#define virDomainGetState (*dl_virDomainGetState)
#define virDomainGetXMLDesc (*dl_virDomainGetXMLDesc)
#define virDomainIsActive (*dl_virDomainIsActive)
#define virDomainLookupByName (*dl_virDomainLookupByName)
#define virDomainPinEmulator (*dl_virDomainPinEmulator)
#define virDomainPinVcpuFlags (*dl_virDomainPinVcpuFlags)
#define virDomainSetAutostart (*dl_virDomainSetAutostart)
#define virDomainSetBlockIoTune (*dl_virDomainSetBlockIoTune)
#define virDomainSetMemoryFlags (*dl_virDomainSetMemoryFlags)
#define virDomainSetMetadata (*dl_virDomainSetMetadata)
#define virDomainSetVcpusFlags (*dl_virDomainSetVcpusFlags)
#define virDomainShutdown (*dl_virDomainShutdown)
#define virDomainShutdownFlags (*dl_virDomainShutdownFlags)
#define virDomainUndefine (*dl_virDomainUndefine)
#define virDomainUndefineFlags (*dl_virDomainUndefineFlags)
#define virDomainUpdateDeviceFlags (*dl_virDomainUpdateDeviceFlags)
#define virEventRegisterDefaultImpl (*dl_virEventRegisterDefaultImpl)
#define virEventRunDefaultImpl (*dl_virEventRunDefaultImpl)
#define virGetLastErrorCode (*dl_virGetLastErrorCode)
#define virGetLastErrorMessage (*dl_virGetLastErrorMessage)
#define virNetworkCreate (*dl_virNetworkCreate)
#define virNetworkDefineXML (*dl_virNetworkDefineXML)
#define virNetworkDestroy (*dl_virNetworkDestroy)
#define virNetworkFree (*dl_virNetworkFree)
#define virNetworkGetAutostart (*dl_virNetworkGetAutostart)
#define virNetworkGetBridgeName (*dl_virNetworkGetBridgeName)
#define virNetworkGetName (*dl_virNetworkGetName)
#define virNetworkGetUUIDString (*dl_virNetworkGetUUIDString)
#define virNetworkGetXMLDesc (*dl_virNetworkGetXMLDesc)
#define virNetworkIsActive (*dl_virNetworkIsActive)
#define virNetworkIsPersistent (*dl_virNetworkIsPersistent)
#define virNetworkLookupByName (*dl_virNetworkLookupByName)
#define virNetworkSetAutostart (*dl_virNetworkSetAutostart)
#define virNetworkUndefine (*dl_virNetworkUndefine)
#define virNetworkUpdate (*dl_virNetworkUpdate)
#define virSetErrorFunc (*dl_virSetErrorFunc)
#define virStoragePoolBuild (*dl_virStoragePoolBuild)
#define virStoragePoolCreate (*dl_virStoragePoolCreate)
#define virStoragePoolDefineXML (*dl_virStoragePoolDefineXML)
#define virStoragePoolDelete (*dl_virStoragePoolDelete)
#define virStoragePoolDestroy (*dl_virStoragePoolDestroy)
#define virStoragePoolFree (*dl_virStoragePoolFree)
#define virStoragePoolGetAutostart (*dl_virStoragePoolGetAutostart)
#define virStoragePoolGetName (*dl_virStoragePoolGetName)
#define virStoragePoolGetXMLDesc (*dl_virStoragePoolGetXMLDesc)
#define virStoragePoolIsActive (*dl_virStoragePoolIsActive)
#define virStoragePoolIsPersistent (*dl_virStoragePoolIsPersistent)
#define virStoragePoolListAllVolumes (*dl_virStoragePoolListAllVolumes)
#define virStoragePoolLookupByName (*dl_virStoragePoolLookupByName)
#define virStoragePoolRefresh (*dl_virStoragePoolRefresh)
#define virStoragePoolSetAutostart (*dl_virStoragePoolSetAutostart)
#define virStoragePoolUndefine (*dl_virStoragePoolUndefine)
#define virStorageVolCreateXML (*dl_virStorageVolCreateXML)
#define virStorageVolCreateXMLFrom (*dl_virStorageVolCreateXMLFrom)
#define virStorageVolDelete (*dl_virStorageVolDelete)
#define virStorageVolFree (*dl_virStorageVolFree)
#define virStorageVolGetInfo (*dl_virStorageVolGetInfo)
#define virStorageVolGetName (*dl_virStorageVolGetName)
#define virStorageVolGetPath (*dl_virStorageVolGetPath)
#define virStorageVolGetXMLDesc (*dl_virStorageVolGetXMLDesc)
#define virStorageVolLookupByName (*dl_virStorageVolLookupByName)
#define virStorageVolLookupByPath (*dl_virStorageVolLookupByPath)
#define virStorageVolResize (*dl_virStorageVolResize)
#define virStorageVolUpload (*dl_virStorageVolUpload)
#define virStreamAbort (*dl_virStreamAbort)
#define virStreamFinish (*dl_virStreamFinish)
#define virStreamFree (*dl_virStreamFree)
#define virStreamNew (*dl_virStreamNew)
#define virStreamSend (*dl_virStreamSend)
#define virTypedParamsAddULLong (*dl_virTypedParamsAddULLong)
#define virTypedParamsFree (*dl_virTypedParamsFree)
#define xmlAddChild (*dl_xmlAddChild)
#define xmlBufferContent (*dl_xmlBufferContent)
#define xmlBufferCreate (*dl_xmlBufferCreate)
#define xmlBufferFree (*dl_xmlBufferFree)
#define xmlDocCopyNode (*dl_xmlDocCopyNode)
#define xmlDocDumpMemory (*dl_xmlDocDumpMemory)
#define xmlDocGetRootElement (*dl_xmlDocGetRootElement)
#define xmlFree (*dl_xmlFree)
#define xmlFreeDoc (*dl_xmlFreeDoc)
#define xmlFreeNode (*dl_xmlFreeNode)
#define xmlFreeTextWriter (*dl_xmlFreeTextWriter)
#define xmlNewTextWriterMemory (*dl_xmlNewTextWriterMemory)
#define xmlReadMemory (*dl_xmlReadMemory)
#define xmlReplaceNode (*dl_xmlReplaceNode)
#define xmlStrEqual (*dl_xmlStrEqual)
#define xmlTextWriterEndDocument (*dl_xmlTextWriterEndDocument)
#define xmlTextWriterEndElement (*dl_xmlTextWriterEndElement)
#define xmlTextWriterSetIndent (*dl_xmlTextWriterSetIndent)
#define xmlTextWriterStartElement (*dl_xmlTextWriterStartElement)
#define xmlTextWriterWriteAttribute (*dl_xmlTextWriterWriteAttribute)
#define xmlTextWriterWriteElement (*dl_xmlTextWriterWriteElement)
#define xmlTextWriterWriteRaw (*dl_xmlTextWriterWriteRaw)
#define xmlTextWriterWriteString (*dl_xmlTextWriterWriteString)
#define xmlUnlinkNode (*dl_xmlUnlinkNode)
#define xmlXPathEvalExpression (*dl_xmlXPathEvalExpression)
#define xmlXPathFreeContext (*dl_xmlXPathFreeContext)
#define xmlXPathFreeObject (*dl_xmlXPathFreeObject)
#define xmlXPathNewContext (*dl_xmlXPathNewContext)
#endif
