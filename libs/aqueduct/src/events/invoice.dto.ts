import { IsNotEmpty, IsString } from 'class-validator';

/** Aqueduct's Invoice object is only named, not specified: an `id` and whatever else it carries. */
export class InvoiceDto {
  @IsString()
  @IsNotEmpty()
  id: string;

  [extra: string]: unknown;
}
