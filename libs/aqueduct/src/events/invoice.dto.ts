import { IsOptional } from 'class-validator';

/**
 * Aqueduct's Invoice object is only named, not specified: an `id` is likely but not promised, so
 * an invoice without one is accepted (it pays no provisioning: nothing links them).
 */
export class InvoiceDto {
  @IsOptional()
  id?: string | number | null;

  [extra: string]: unknown;
}
