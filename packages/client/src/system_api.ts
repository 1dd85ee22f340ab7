/** The System service (sys/ lifecycle paths) of {@link CofferClient}. */
import type { SystemApi } from './client_api.ts';
import type { UnaryCaller } from './unary_caller.ts';

/** The System methods, each one call on `caller`. */
export function createSystemApi(caller: UnaryCaller): SystemApi {
  return {
    init: (request) =>
      caller.call('System/Init', {
        secret_shares: request.secretShares ?? 0,
        secret_threshold: request.secretThreshold ?? 0,
        generate_hsm_key: request.generateHsmKey ?? false,
        break_glass_shares: request.breakGlassShares ?? 0,
        break_glass_threshold: request.breakGlassThreshold ?? 0,
      }),
    unseal: (request) =>
      caller.call('System/Unseal', {
        key: request.key ?? '',
        reset: request.reset ?? false,
        break_glass: request.breakGlass ?? false,
        migrate: request.migrate ?? false,
      }),
    sealStatus: () => caller.call('System/SealStatus', {}),
    health: () => caller.call('System/Health', {}),
    seal: (options) => caller.call('System/Seal', {}, options),
    stepDown: (options) => caller.call('System/StepDown', {}, options),
    rekeyInit: (request) =>
      caller.call('System/RekeyInit', {
        secret_shares: request.secretShares,
        secret_threshold: request.secretThreshold,
      }),
    rekeyUpdate: (request) =>
      caller.call('System/RekeyUpdate', { key: request.key, nonce: request.nonce }),
    rekeyStatus: () => caller.call('System/RekeyStatus', {}),
    rekeyCancel: () => caller.call('System/RekeyCancel', {}),
    rotate: (options) => caller.call('System/Rotate', {}, options),
    keyStatus: (options) => caller.call('System/KeyStatus', {}, options),
    generateRootInit: (request) => caller.call('System/GenerateRootInit', { otp: request.otp }),
    generateRootUpdate: (request) =>
      caller.call('System/GenerateRootUpdate', { key: request.key, nonce: request.nonce }),
    generateRootStatus: () => caller.call('System/GenerateRootStatus', {}),
    generateRootCancel: () => caller.call('System/GenerateRootCancel', {}),
  };
}
