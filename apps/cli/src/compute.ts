/** Opens the compute path for a command, turning "no adapter" into the CLI's own exit code. */
import { NoAdapterError, openCompute, type Compute, type DeviceChoice } from '@synpo/gpu';
import { CliError, EXIT } from './errors.ts';

export async function computeFor(device: DeviceChoice, options: { profile?: boolean; adapter?: string } = {}): Promise<Compute> {
  try {
    return await openCompute({ device, ...options, notify: (m) => process.stderr.write(`${m}\n`) });
  } catch (error) {
    if (error instanceof NoAdapterError) {
      throw new CliError(
        `${error.message}\n(${options.adapter ? '--adapter names an adapter this machine does not have' : '--device gpu needs a WebGPU adapter; use --device auto or cpu to run on the CPU'})`,
        EXIT.noGpu,
      );
    }
    throw error;
  }
}
