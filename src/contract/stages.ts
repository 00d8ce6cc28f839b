import { z } from 'zod';

/** The stages, in pipeline order (contract section 1). */
export const stageNames = ['ingestion', 'validation', 'analysis'] as const;
export const StageName = z.enum(stageNames);
export type StageName = z.infer<typeof StageName>;

export function nextStage(stage: StageName): StageName | undefined {
  return stageNames[stageNames.indexOf(stage) + 1];
}
