/*
 * ===========================================================================
 *  FAKE NVIDIA Management Library (libnvidia-ml.so.1) -- FOR TESTS ONLY.
 *
 *  This is NOT NVIDIA's NVML and talks to no GPU or driver. It implements a
 *  small subset of the NVML C API (declared by the official nvml.h, which
 *  build.sh fetches) and answers from a plain-text state file so tests can
 *  exercise GPU telemetry code on machines without a GPU.
 * ===========================================================================
 *
 * State file: named by $SWITCHYARD_FAKE_NVML_STATE, or else the file
 * `fake-nvml-state` beside this library (found with dladdr), so that each copy
 * of the library in its own directory has its own state even when several
 * copies are loaded into one process (tests running side by side). It is
 * re-read on EVERY call, so a
 * test can change the readings while a program that loaded this library keeps
 * running. Write it to a temporary name and rename() it over the old one (an
 * atomic replace); a half-written file cannot crash the library, but it may be
 * read as it stands.
 *
 * If the variable is unset or the file cannot be opened, nvmlInit_v2 /
 * nvmlInit / nvmlInitWithFlags return NVML_ERROR_DRIVER_NOT_LOADED ("no
 * driver"). After a successful init, a file that becomes unreadable leaves the
 * last snapshot read in force.
 *
 * Format: KEY=VALUE lines; blank lines and lines starting with '#' are ignored;
 * spaces around keys and values are trimmed; unknown keys are ignored. Numbers
 * are decimal or 0x-hex; anything after the number is ignored; a value that is
 * not a number leaves the default.
 *
 *   count=2                      number of GPUs (at most 16); default: highest
 *                                device index mentioned + 1, or 0
 *   driver_version=550.54.15     nvmlSystemGetDriverVersion (default 550.54.15)
 *   nvml_version=12.550.54.15    nvmlSystemGetNVMLVersion (default "12." + driver_version)
 *   cuda_driver_version=12040    nvmlSystemGetCudaDriverVersion[_v2] (default 12040)
 *   init_error=0                 non-zero: nvmlInit* return this nvmlReturn_t code
 *                                (e.g. 4 = NO_PERMISSION) instead of succeeding
 *   <i>.name=NVIDIA H100 80GB HBM3            default "Fake GPU <i>"
 *   <i>.uuid=GPU-11111111-2222-3333-4444-555555555555
 *                                default GPU-fa4e0000-0000-4000-8000-00000000000<i> (hex index)
 *   <i>.memory_total=85899345920 bytes
 *   <i>.memory_used=1073741824   bytes (allocated; v2 "used")
 *   <i>.memory_reserved=0        bytes; free = total - used - reserved (clamped at 0);
 *                                the v1 struct's "used" is used + reserved, as in NVML
 *   <i>.util_gpu=35              percent
 *   <i>.util_memory=20           percent
 *   <i>.temperature=45           degrees C
 *   <i>.power_mw=120000          milliwatts
 *   <i>.throttle_reasons=0       bitmask (clocks event reasons), decimal or 0x hex
 *   <i>.ecc_uncorrected=0        volatile counts
 *   <i>.ecc_corrected=0
 *   <i>.ecc_uncorrected_aggregate=  aggregate counts (default: the volatile value)
 *   <i>.ecc_corrected_aggregate=
 *   <i>.lost=0                   1: every call on this device (including
 *                                nvmlDeviceGetHandleByIndex_v2) returns NVML_ERROR_GPU_IS_LOST
 *   <i>.unsupported=             comma list of readings that return
 *                                NVML_ERROR_NOT_SUPPORTED: name, uuid, memory,
 *                                utilization, temperature, power, throttle_reasons, ecc
 * Unset per-device numbers are 0.
 *
 * Semantics copied from NVML: init is reference counted (each nvmlInit* needs a
 * nvmlShutdown); calls made while not initialised return NVML_ERROR_UNINITIALIZED;
 * a string buffer too small returns NVML_ERROR_INSUFFICIENT_SIZE; a handle whose
 * index is no longer below count returns NVML_ERROR_INVALID_ARGUMENT; versioned
 * structs with the wrong version return NVML_ERROR_ARGUMENT_VERSION_MISMATCH.
 * Not modelled: init failing when count=0 (use init_error=...).
 */

#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nvml.h>

#define FAKE_STATE_ENV "SWITCHYARD_FAKE_NVML_STATE"
#define FAKE_MAX_DEVICES 16
#define FAKE_MAX_FILE (256 * 1024)
#define FAKE_STR 96 /* >= NVML_DEVICE_NAME_V2_BUFFER_SIZE, NVML_DEVICE_UUID_V2_BUFFER_SIZE */

#define EXPORT __attribute__((visibility("default")))

/* Removed from the CUDA 13 nvml.h but still exported by real drivers, and still
 * what nvml-wrapper 0.13 calls for Device::temperature(). */
EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                             unsigned int *temp);
/* Declared DEPRECATED in nvml.h; nvml-wrapper 0.13 calls it for current_throttle_reasons(). */
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                              unsigned long long *clocksThrottleReasons);

/* nvml.h leaves struct nvmlDevice_st opaque: a handle here points into g_handles. */
struct nvmlDevice_st {
    unsigned int index;
};

static struct nvmlDevice_st g_handles[FAKE_MAX_DEVICES] = {
    {0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15},
};

enum {
    UNSUP_NAME = 1u << 0,
    UNSUP_UUID = 1u << 1,
    UNSUP_MEMORY = 1u << 2,
    UNSUP_UTILIZATION = 1u << 3,
    UNSUP_TEMPERATURE = 1u << 4,
    UNSUP_POWER = 1u << 5,
    UNSUP_THROTTLE = 1u << 6,
    UNSUP_ECC = 1u << 7,
};

typedef struct {
    char name[FAKE_STR];
    char uuid[FAKE_STR];
    int name_set, uuid_set;
    unsigned long long memory_total, memory_used, memory_reserved;
    unsigned long long util_gpu, util_memory, temperature, power_mw;
    unsigned long long throttle_reasons;
    unsigned long long ecc_uncorrected, ecc_corrected;
    unsigned long long ecc_uncorrected_aggregate, ecc_corrected_aggregate;
    int ecc_uncorrected_aggregate_set, ecc_corrected_aggregate_set;
    unsigned long long lost;
    unsigned int unsupported;
} fake_device;

typedef struct {
    unsigned int count;
    char driver_version[FAKE_STR];
    char nvml_version[FAKE_STR];
    unsigned long long cuda_driver_version;
    unsigned long long init_error;
    fake_device dev[FAKE_MAX_DEVICES];
} fake_state;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int g_init_count;
static int g_have_last;
static fake_state g_last;

/* ---------------------------------------------------------------- parsing */

static char *trim(char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Decimal or 0x-hex (never octal); returns 0 when no digits. */
static int parse_u64(const char *v, unsigned long long *out) {
    int base = 10;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
        if (!isxdigit((unsigned char)*v)) return 0;
    } else if (!isdigit((unsigned char)*v)) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, base);
    if (end == v || errno == ERANGE) return 0;
    *out = x;
    return 1;
}

static void set_str(char *dst, const char *v) {
    snprintf(dst, FAKE_STR, "%s", v);
}

static unsigned int parse_unsupported(char *v) {
    unsigned int mask = 0;
    char *save = NULL;
    for (char *tok = strtok_r(v, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (!strcmp(tok, "name")) mask |= UNSUP_NAME;
        else if (!strcmp(tok, "uuid")) mask |= UNSUP_UUID;
        else if (!strcmp(tok, "memory")) mask |= UNSUP_MEMORY;
        else if (!strcmp(tok, "utilization")) mask |= UNSUP_UTILIZATION;
        else if (!strcmp(tok, "temperature")) mask |= UNSUP_TEMPERATURE;
        else if (!strcmp(tok, "power")) mask |= UNSUP_POWER;
        else if (!strcmp(tok, "throttle_reasons")) mask |= UNSUP_THROTTLE;
        else if (!strcmp(tok, "ecc")) mask |= UNSUP_ECC;
    }
    return mask;
}

static void parse_device_key(fake_device *d, const char *key, char *v) {
    struct {
        const char *key;
        unsigned long long *field;
        int *set_flag;
    } nums[] = {
        {"memory_total", &d->memory_total, NULL},
        {"memory_used", &d->memory_used, NULL},
        {"memory_reserved", &d->memory_reserved, NULL},
        {"util_gpu", &d->util_gpu, NULL},
        {"util_memory", &d->util_memory, NULL},
        {"temperature", &d->temperature, NULL},
        {"power_mw", &d->power_mw, NULL},
        {"throttle_reasons", &d->throttle_reasons, NULL},
        {"ecc_uncorrected", &d->ecc_uncorrected, NULL},
        {"ecc_corrected", &d->ecc_corrected, NULL},
        {"ecc_uncorrected_aggregate", &d->ecc_uncorrected_aggregate, &d->ecc_uncorrected_aggregate_set},
        {"ecc_corrected_aggregate", &d->ecc_corrected_aggregate, &d->ecc_corrected_aggregate_set},
        {"lost", &d->lost, NULL},
    };
    if (!strcmp(key, "name")) {
        set_str(d->name, v);
        d->name_set = 1;
        return;
    }
    if (!strcmp(key, "uuid")) {
        set_str(d->uuid, v);
        d->uuid_set = 1;
        return;
    }
    if (!strcmp(key, "unsupported")) {
        d->unsupported = parse_unsupported(v);
        return;
    }
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (!strcmp(key, nums[i].key)) {
            if (parse_u64(v, nums[i].field) && nums[i].set_flag) *nums[i].set_flag = 1;
            return;
        }
    }
}

static void parse_state(char *text, fake_state *st) {
    memset(st, 0, sizeof *st);
    set_str(st->driver_version, "550.54.15");
    st->cuda_driver_version = 12040;
    int count_set = 0, nvml_version_set = 0;
    unsigned int max_index_plus_one = 0;

    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *l = trim(line);
        if (*l == '\0' || *l == '#') continue;
        char *eq = strchr(l, '=');
        if (!eq) continue;
        *eq = '\0';
        char *key = trim(l);
        char *val = trim(eq + 1);

        if (isdigit((unsigned char)key[0])) {
            char *dot = NULL;
            errno = 0;
            unsigned long idx = strtoul(key, &dot, 10);
            if (errno || !dot || *dot != '.' || idx >= FAKE_MAX_DEVICES) continue;
            if (idx + 1 > max_index_plus_one) max_index_plus_one = (unsigned int)idx + 1;
            parse_device_key(&st->dev[idx], dot + 1, val);
        } else if (!strcmp(key, "count")) {
            unsigned long long c;
            if (parse_u64(val, &c)) {
                st->count = c > FAKE_MAX_DEVICES ? FAKE_MAX_DEVICES : (unsigned int)c;
                count_set = 1;
            }
        } else if (!strcmp(key, "driver_version")) {
            set_str(st->driver_version, val);
        } else if (!strcmp(key, "nvml_version")) {
            set_str(st->nvml_version, val);
            nvml_version_set = 1;
        } else if (!strcmp(key, "cuda_driver_version")) {
            parse_u64(val, &st->cuda_driver_version);
        } else if (!strcmp(key, "init_error")) {
            parse_u64(val, &st->init_error);
        }
    }

    if (!count_set) st->count = max_index_plus_one;
    if (!nvml_version_set) snprintf(st->nvml_version, FAKE_STR, "12.%.80s", st->driver_version);
    for (unsigned int i = 0; i < FAKE_MAX_DEVICES; i++) {
        fake_device *d = &st->dev[i];
        if (!d->name_set) snprintf(d->name, FAKE_STR, "Fake GPU %u", i);
        if (!d->uuid_set) snprintf(d->uuid, FAKE_STR, "GPU-fa4e0000-0000-4000-8000-%012x", i);
        if (!d->ecc_uncorrected_aggregate_set) d->ecc_uncorrected_aggregate = d->ecc_uncorrected;
        if (!d->ecc_corrected_aggregate_set) d->ecc_corrected_aggregate = d->ecc_corrected;
    }
}

/* Reads the state file into *st. Returns 0, or -1 when the variable is unset
 * or the file cannot be read. */
/* The state file's path: the variable's value, or `fake-nvml-state` in the
 * directory this library was loaded from. */
static const char *state_path(char *buf, size_t size) {
    const char *path = getenv(FAKE_STATE_ENV);
    if (path && *path) return path;
    Dl_info info;
    if (!dladdr((void *)&state_path, &info) || !info.dli_fname) return NULL;
    const char *slash = strrchr(info.dli_fname, '/');
    size_t dir_len = slash ? (size_t)(slash - info.dli_fname) : 0;
    int n = snprintf(buf, size, "%.*s%sfake-nvml-state", (int)dir_len, info.dli_fname,
                     slash ? "/" : "");
    if (n < 0 || (size_t)n >= size) return NULL;
    return buf;
}

static int read_state_file(fake_state *st) {
    char path_buf[4096];
    const char *path = state_path(path_buf, sizeof path_buf);
    if (!path) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char *buf = malloc(FAKE_MAX_FILE + 1);
    if (!buf) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        if (len == FAKE_MAX_FILE) break; /* longer files are cut, not rejected */
        ssize_t n = read(fd, buf + len, FAKE_MAX_FILE - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            close(fd);
            free(buf);
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    /* A NUL inside the file ends the text there. */
    parse_state(buf, st);
    free(buf);
    return 0;
}

/* Current state, for a call made while initialised. Returns NVML_SUCCESS,
 * NVML_ERROR_UNINITIALIZED, or NVML_ERROR_DRIVER_NOT_LOADED (never read). */
static nvmlReturn_t current_state(fake_state *st) {
    fake_state fresh;
    int ok = read_state_file(&fresh) == 0;
    nvmlReturn_t ret = NVML_SUCCESS;
    pthread_mutex_lock(&g_lock);
    if (g_init_count == 0) {
        ret = NVML_ERROR_UNINITIALIZED;
    } else if (ok) {
        g_last = fresh;
        g_have_last = 1;
        *st = fresh;
    } else if (g_have_last) {
        *st = g_last;
    } else {
        ret = NVML_ERROR_DRIVER_NOT_LOADED;
    }
    pthread_mutex_unlock(&g_lock);
    return ret;
}

/* State and device for a call on a device handle. */
static nvmlReturn_t device_state(nvmlDevice_t device, fake_state *st, fake_device **out) {
    nvmlReturn_t ret = current_state(st);
    if (ret != NVML_SUCCESS) return ret;
    uintptr_t p = (uintptr_t)device, base = (uintptr_t)&g_handles[0];
    if (p < base || p >= base + sizeof g_handles || (p - base) % sizeof g_handles[0] != 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int i = device->index;
    if (i >= st->count) return NVML_ERROR_INVALID_ARGUMENT;
    if (st->dev[i].lost) return NVML_ERROR_GPU_IS_LOST;
    *out = &st->dev[i];
    return NVML_SUCCESS;
}

static nvmlReturn_t copy_str(char *dst, unsigned int length, const char *src) {
    if (!dst) return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(src);
    if (n + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

static unsigned int clamp_u32(unsigned long long v) {
    return v > 0xffffffffULL ? 0xffffffffu : (unsigned int)v;
}

/* ------------------------------------------------------------- init / misc */

static nvmlReturn_t do_init(void) {
    fake_state st;
    if (read_state_file(&st) != 0) return NVML_ERROR_DRIVER_NOT_LOADED;
    if (st.init_error) return (nvmlReturn_t)st.init_error;
    pthread_mutex_lock(&g_lock);
    g_init_count++;
    g_last = st;
    g_have_last = 1;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlInit_v2(void) { return do_init(); }

EXPORT nvmlReturn_t nvmlInit(void) { return do_init(); }

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags; /* NO_GPUS / NO_ATTACH change nothing here */
    return do_init();
}

EXPORT nvmlReturn_t nvmlShutdown(void) {
    nvmlReturn_t ret = NVML_SUCCESS;
    pthread_mutex_lock(&g_lock);
    if (g_init_count == 0) ret = NVML_ERROR_UNINITIALIZED;
    else g_init_count--;
    pthread_mutex_unlock(&g_lock);
    return ret;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt request issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "ECC is enabled; vGPU not supported";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED: return "Reset type not supported";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
    }
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    fake_state st;
    nvmlReturn_t ret = current_state(&st);
    if (ret != NVML_SUCCESS) return ret;
    return copy_str(version, length, st.driver_version);
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    fake_state st;
    nvmlReturn_t ret = current_state(&st);
    if (ret != NVML_SUCCESS) return ret;
    return copy_str(version, length, st.nvml_version);
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    fake_state st;
    nvmlReturn_t ret = current_state(&st);
    if (ret != NVML_SUCCESS) return ret;
    if (!cudaDriverVersion) return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = (int)st.cuda_driver_version;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    return nvmlSystemGetCudaDriverVersion_v2(cudaDriverVersion);
}

/* ----------------------------------------------------------------- devices */

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    fake_state st;
    nvmlReturn_t ret = current_state(&st);
    if (ret != NVML_SUCCESS) return ret;
    if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = st.count;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) { return nvmlDeviceGetCount_v2(deviceCount); }

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    fake_state st;
    nvmlReturn_t ret = current_state(&st);
    if (ret != NVML_SUCCESS) return ret;
    if (!device || index >= st.count) return NVML_ERROR_INVALID_ARGUMENT;
    if (st.dev[index].lost) return NVML_ERROR_GPU_IS_LOST;
    *device = &g_handles[index];
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    fake_state st;
    nvmlReturn_t ret = current_state(&st);
    if (ret != NVML_SUCCESS) return ret;
    if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int i = 0; i < st.count; i++) {
        if (!strcmp(st.dev[i].uuid, uuid)) {
            if (st.dev[i].lost) return NVML_ERROR_GPU_IS_LOST;
            *device = &g_handles[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

#define DEVICE_PROLOGUE(device, out_ptr, unsup_bit)                     \
    fake_state st;                                                      \
    fake_device *d = NULL;                                              \
    nvmlReturn_t ret = device_state((device), &st, &d);                 \
    if (ret != NVML_SUCCESS) return ret;                                \
    if (!(out_ptr)) return NVML_ERROR_INVALID_ARGUMENT;                 \
    if (d->unsupported & (unsup_bit)) return NVML_ERROR_NOT_SUPPORTED

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    DEVICE_PROLOGUE(device, index, 0);
    *index = device->index;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    DEVICE_PROLOGUE(device, name, UNSUP_NAME);
    return copy_str(name, length, d->name);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    DEVICE_PROLOGUE(device, uuid, UNSUP_UUID);
    return copy_str(uuid, length, d->uuid);
}

static unsigned long long free_bytes(const fake_device *d) {
    unsigned long long taken = d->memory_used + d->memory_reserved;
    if (taken < d->memory_used) return 0; /* overflow */
    return taken >= d->memory_total ? 0 : d->memory_total - taken;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    DEVICE_PROLOGUE(device, memory, UNSUP_MEMORY);
    memory->total = d->memory_total;
    memory->free = free_bytes(d);
    memory->used = d->memory_used + d->memory_reserved; /* v1: reserved + allocated */
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    DEVICE_PROLOGUE(device, memory, UNSUP_MEMORY);
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    memory->total = d->memory_total;
    memory->reserved = d->memory_reserved;
    memory->free = free_bytes(d);
    memory->used = d->memory_used;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    DEVICE_PROLOGUE(device, utilization, UNSUP_UTILIZATION);
    utilization->gpu = clamp_u32(d->util_gpu);
    utilization->memory = clamp_u32(d->util_memory);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                             unsigned int *temp) {
    DEVICE_PROLOGUE(device, temp, UNSUP_TEMPERATURE);
    if (sensorType != NVML_TEMPERATURE_GPU && sensorType != NVML_TEMPERATURE_GPU_MAX)
        return NVML_ERROR_INVALID_ARGUMENT;
    *temp = clamp_u32(d->temperature);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperature) {
    DEVICE_PROLOGUE(device, temperature, UNSUP_TEMPERATURE);
    if (temperature->version != nvmlTemperature_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (temperature->sensorType != NVML_TEMPERATURE_GPU && temperature->sensorType != NVML_TEMPERATURE_GPU_MAX)
        return NVML_ERROR_INVALID_ARGUMENT;
    temperature->temperature = (int)(d->temperature > 0x7fffffffULL ? 0x7fffffffULL : d->temperature);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    DEVICE_PROLOGUE(device, power, UNSUP_POWER);
    *power = clamp_u32(d->power_mw);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                           unsigned long long *clocksEventReasons) {
    DEVICE_PROLOGUE(device, clocksEventReasons, UNSUP_THROTTLE);
    *clocksEventReasons = d->throttle_reasons;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                              unsigned long long *clocksThrottleReasons) {
    return nvmlDeviceGetCurrentClocksEventReasons(device, clocksThrottleReasons);
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                nvmlEccCounterType_t counterType, unsigned long long *eccCounts) {
    DEVICE_PROLOGUE(device, eccCounts, UNSUP_ECC);
    int aggregate;
    if (counterType == NVML_VOLATILE_ECC) aggregate = 0;
    else if (counterType == NVML_AGGREGATE_ECC) aggregate = 1;
    else return NVML_ERROR_INVALID_ARGUMENT;
    if (errorType == NVML_MEMORY_ERROR_TYPE_UNCORRECTED)
        *eccCounts = aggregate ? d->ecc_uncorrected_aggregate : d->ecc_uncorrected;
    else if (errorType == NVML_MEMORY_ERROR_TYPE_CORRECTED)
        *eccCounts = aggregate ? d->ecc_corrected_aggregate : d->ecc_corrected;
    else
        return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_SUCCESS;
}
