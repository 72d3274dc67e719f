/** Your business logic, called by handler.ts for each record: an order in, its result out. */
export interface Order {
  readonly orderId: string;
  readonly lines: readonly { readonly sku: string; readonly quantity: number; readonly price: number }[];
}

export interface OrderResult {
  readonly orderId: string;
  readonly total: number;
}

export async function handleOrder(order: Order): Promise<OrderResult> {
  return { orderId: order.orderId, total: order.lines.reduce((sum, l) => sum + l.quantity * l.price, 0) };
}
