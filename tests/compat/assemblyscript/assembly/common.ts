// Helpers shared by the compatibility plugins. Everything here goes through the
// SDK's own wrappers and imports; nothing talks to the host directly except the
// shared-data calls, whose SDK wrappers pass the wrong arguments (see below).
import {
  get_buffer_bytes, BufferTypeValues, HeaderMapTypeValues, WasmResultValues,
} from "@solo-io/proxy-runtime/runtime";
import * as imports from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";

// RootContext.onConfigure in proxy-runtime 0.1.8 passes the configuration size as
// the *address* of the size slot of proxy_get_buffer_bytes (so the host writes a
// u32 into low memory) and never resets its cached size. The plugins therefore
// read their configuration themselves, through the SDK's (correct) get_buffer_bytes.
export function readPluginConfiguration(configuration_size: u32): string {
  if (configuration_size == 0) return "";
  let bytes = get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, configuration_size);
  return String.UTF8.decode(bytes);
}

// Value of `key: value` on its own line in a configuration text, or `fallback`.
export function configValue(config: string, key: string, fallback: string): string {
  let lines = config.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    let colon = line.indexOf(":");
    if (colon < 0) continue;
    if (line.substring(0, colon).trim() == key) {
      return line.substring(colon + 1).trim();
    }
  }
  return fallback;
}

// One u32 return slot plus a (pointer, size) return pair in the plugin's memory.
class ReturnSlots {
  data: usize = 0;
  size: usize = 0;
  cas: u32 = 0;

  dataPtr(): usize { return changetype<usize>(this) + offsetof<ReturnSlots>("data"); }
  sizePtr(): usize { return changetype<usize>(this) + offsetof<ReturnSlots>("size"); }
  casPtr(): usize { return changetype<usize>(this) + offsetof<ReturnSlots>("cas"); }

  // Takes ownership of the block the host allocated through the exported malloc.
  take(): ArrayBuffer {
    if (this.size == 0 || this.data == 0) return new ArrayBuffer(0);
    let block = changetype<ArrayBuffer>(this.data);
    let copy = block.slice(0, <i32>this.size);
    free(this.data);
    this.data = 0;
    this.size = 0;
    return copy;
  }
}

export class SharedValue {
  result: WasmResultValues = WasmResultValues.Ok;
  value: string = "";
  cas: u32 = 0;
}

// The SDK's get_shared_data/set_shared_data hand the host an ArrayBuffer where a
// return slot belongs and a pointer where the CAS belongs, so these call the
// imports the SDK declares directly.
export function getSharedData(key: string): SharedValue {
  let slots = new ReturnSlots();
  let k = String.UTF8.encode(key);
  let out = new SharedValue();
  out.result = imports.proxy_get_shared_data(changetype<usize>(k), k.byteLength,
    slots.dataPtr(), slots.sizePtr(), slots.casPtr());
  if (out.result == WasmResultValues.Ok) {
    out.value = String.UTF8.decode(slots.take());
    out.cas = slots.cas;
  }
  return out;
}

export function setSharedData(key: string, value: string, cas: u32): WasmResultValues {
  let k = String.UTF8.encode(key);
  let v = String.UTF8.encode(value);
  return imports.proxy_set_shared_data(changetype<usize>(k), k.byteLength,
    changetype<usize>(v), v.byteLength, cas);
}

export { HeaderMapTypeValues };
